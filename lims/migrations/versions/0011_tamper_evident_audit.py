"""tamper-evident audit: keyed chain version, custody row hashes, REPLACE refused, app role

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

from lims.db import grant_app_role, revoke_app_role


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Every unique key of each append-only table: INSERT OR REPLACE deletes the row holding any of
# them without firing DELETE triggers, so a BEFORE INSERT trigger refuses an existing key.
UNIQUE_KEYS = {
    "audit_entry": ("seq = NEW.seq OR entry_hash = NEW.entry_hash"),
    "custody_event": ("id = NEW.id OR (sample_id = NEW.sample_id "
                      "AND sequence = NEW.sequence)"),
}


def _role() -> str:
    return current_app.config["LIMS"].db_app_role


def upgrade():
    op.add_column('audit_entry', sa.Column('row_ref', sa.String(length=80), nullable=True))
    op.add_column('audit_entry', sa.Column('row_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_entry', sa.Column('chain_version', sa.Integer(), server_default='1',
                                           nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        grant_app_role(op.get_bind(), _role())
        return
    for table, clash in UNIQUE_KEYS.items():
        op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                   f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: REPLACE of an existing key refused'); "
                   "END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        revoke_app_role(op.get_bind(), _role())
    else:
        for table in UNIQUE_KEYS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
    op.drop_column('audit_entry', 'chain_version')
    op.drop_column('audit_entry', 'row_hash')
    op.drop_column('audit_entry', 'row_ref')
