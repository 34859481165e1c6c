"""accounts: two-factor, expiry, token expiry, the shared throttle store

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 01:10:00

"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttle'))
    )
    with op.batch_alter_table('throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_throttle_window_start'), ['window_start'],
                              unique=False)

    # Plain ALTER TABLE (SQLite >= 3.35 drops columns in place): `user` is referenced by most
    # tables, so it is not copied and recreated the way batch mode would.
    op.add_column('user', sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('user', sa.Column('password_changed_at', sa.DateTime(timezone=True),
                                    nullable=True))
    op.add_column('user', sa.Column('totp_secret', sa.String(length=255), nullable=True))
    op.add_column('user', sa.Column('totp_confirmed_at', sa.DateTime(timezone=True),
                                    nullable=True))
    op.add_column('user', sa.Column('totp_last_step', sa.Integer(), nullable=True))
    op.drop_column('user', 'locked_until')
    op.drop_column('user', 'failed_logins')

    op.add_column('api_token', sa.Column('expires_at', sa.DateTime(timezone=True),
                                         nullable=True))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)  # stored naive, as UTC (lims.db.UTCDateTime)
    # The idle period of existing accounts starts at the upgrade, not at their last login;
    # tokens made before expiry existed get the default lifetime from today.
    user = sa.table('user', sa.column('enabled_at', sa.DateTime(timezone=True)))
    op.execute(user.update().values(enabled_at=now))
    api_token = sa.table('api_token', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(api_token.update().values(expires_at=now + timedelta(days=90)))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True),
                              nullable=False)


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    op.add_column('user', sa.Column('failed_logins', sa.Integer(), nullable=False,
                                    server_default='0'))
    op.add_column('user', sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    for column in ('totp_last_step', 'totp_confirmed_at', 'totp_secret', 'password_changed_at',
                   'enabled_at'):
        op.drop_column('user', column)
    with op.batch_alter_table('throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_window_start'))
    op.drop_table('throttle')
