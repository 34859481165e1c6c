"""certificate revisions (B-LTA archival time-stamps)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificate_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('timestamped_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], name=op.f('fk_certificate_revision_certificate_id_certificate')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_revision')),
    sa.UniqueConstraint('certificate_id', 'seq', name=op.f('uq_certificate_revision_certificate_id'))
    )
    with op.batch_alter_table('certificate_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_revision_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_revision_sha256'), ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('certificate_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_revision_sha256'))
        batch_op.drop_index(batch_op.f('ix_certificate_revision_certificate_id'))
    op.drop_table('certificate_revision')
