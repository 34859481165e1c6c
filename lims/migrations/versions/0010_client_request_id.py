"""audit entries keep the caller's X-Request-ID apart from the server's request id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): on SQLite a table rebuild would drop the
    # append-only triggers of audit_entry.
    op.add_column('audit_entry', sa.Column('client_request_id', sa.String(length=64),
                                           nullable=True))


def downgrade():
    op.drop_column('audit_entry', 'client_request_id')
