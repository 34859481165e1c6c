"""extended statistics for combined sample filters (PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:30:00

The planner treats status and holder as independent and, for a combination that matches few
rows, scans the whole primary key backwards; multivariate statistics let it estimate them
together (measured 21.9 ms -> 4.3 ms at 100,000 samples). SQLite needs nothing.
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS sample_status_holder (mcv) "
                   "ON status, holder_user_id, holder_location_id FROM sample")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS sample_status_holder")
