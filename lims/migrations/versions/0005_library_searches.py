"""library searches and their hits

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('library_search',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spectrum_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('library_id', sa.Integer(), nullable=False),
    sa.Column('library_name', sa.String(length=200), nullable=False),
    sa.Column('library_version', sa.String(length=60), nullable=False),
    sa.Column('library_sha256', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=40), nullable=False),
    sa.Column('algorithm_label', sa.String(length=120), nullable=False),
    sa.Column('recipe_json', sa.Text(), nullable=False),
    sa.Column('recipe_sha256', sa.String(length=64), nullable=False),
    sa.Column('engine_version', sa.String(length=40), nullable=False),
    sa.Column('top', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_library_search_created_by_id_user')),
    sa.ForeignKeyConstraint(['library_id'], ['reference_library.id'], name=op.f('fk_library_search_library_id_reference_library')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_library_search_sample_id_sample')),
    sa.ForeignKeyConstraint(['spectrum_id'], ['spectrum.id'], name=op.f('fk_library_search_spectrum_id_spectrum')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_library_search'))
    )
    with op.batch_alter_table('library_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_library_search_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_library_search_spectrum_id'), ['spectrum_id'], unique=False)

    op.create_table('library_search_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('substance_name', sa.String(length=300), nullable=False),
    sa.Column('cas', sa.String(length=20), nullable=False),
    sa.Column('raw', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('matches', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_library_search_hit_decided_by_id_user')),
    sa.ForeignKeyConstraint(['entry_id'], ['library_entry.id'], name=op.f('fk_library_search_hit_entry_id_library_entry')),
    sa.ForeignKeyConstraint(['search_id'], ['library_search.id'], name=op.f('fk_library_search_hit_search_id_library_search')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_library_search_hit')),
    sa.UniqueConstraint('search_id', 'rank', name=op.f('uq_library_search_hit_search_id'))
    )
    with op.batch_alter_table('library_search_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_library_search_hit_search_id'), ['search_id'], unique=False)


def downgrade():
    with op.batch_alter_table('library_search_hit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_library_search_hit_search_id'))
    op.drop_table('library_search_hit')
    with op.batch_alter_table('library_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_library_search_spectrum_id'))
        batch_op.drop_index(batch_op.f('ix_library_search_sample_id'))
    op.drop_table('library_search')
