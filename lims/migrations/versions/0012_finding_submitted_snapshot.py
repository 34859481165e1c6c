"""findings keep the snapshot their author signed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 02:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: findings submitted before this migration fall back to their live snapshot.
    op.add_column('finding', sa.Column('submitted_snapshot', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_column('submitted_snapshot')
