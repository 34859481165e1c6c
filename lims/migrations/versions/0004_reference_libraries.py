"""reference libraries, substances, synonyms and dated legal status

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('substance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('cas', sa.String(length=12), nullable=True),
    sa.Column('formula', sa.String(length=120), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substance')),
    sa.UniqueConstraint('cas', name=op.f('uq_substance_cas')),
    sa.UniqueConstraint('name', name=op.f('uq_substance_name'))
    )
    op.create_table('substance_synonym',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_substance_synonym_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substance_synonym')),
    sa.UniqueConstraint('substance_id', 'position', name=op.f('uq_substance_synonym_substance_id'))
    )
    with op.batch_alter_table('substance_synonym', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_substance_synonym_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_substance_synonym_substance_id'), ['substance_id'], unique=False)

    op.create_table('legal_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('regime', sa.String(length=80), nullable=False),
    sa.Column('schedule', sa.String(length=80), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_legal_status_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_legal_status_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_status'))
    )
    with op.batch_alter_table('legal_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_status_substance_id'), ['substance_id'], unique=False)

    op.create_table('reference_library',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('adapter', sa.String(length=20), nullable=False),
    sa.Column('format_label', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('x_unit', sa.String(length=40), nullable=False),
    sa.Column('y_unit', sa.String(length=40), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('index_info_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['user.id'], name=op.f('fk_reference_library_imported_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_library')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_reference_library_name')),
    sa.UniqueConstraint('sha256', name=op.f('uq_reference_library_sha256'))
    )
    op.create_table('library_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('library_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('cas', sa.String(length=12), nullable=True),
    sa.Column('formula', sa.String(length=120), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=False),
    sa.Column('n_points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['library_id'], ['reference_library.id'], name=op.f('fk_library_entry_library_id_reference_library')),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_library_entry_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_library_entry')),
    sa.UniqueConstraint('library_id', 'position', name=op.f('uq_library_entry_library_id'))
    )
    with op.batch_alter_table('library_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_library_entry_substance_id'), ['substance_id'], unique=False)


def downgrade():
    with op.batch_alter_table('library_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_library_entry_substance_id'))
    op.drop_table('library_entry')
    op.drop_table('reference_library')
    with op.batch_alter_table('legal_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_status_substance_id'))
    op.drop_table('legal_status')
    with op.batch_alter_table('substance_synonym', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_substance_synonym_substance_id'))
        batch_op.drop_index(batch_op.f('ix_substance_synonym_name'))
    op.drop_table('substance_synonym')
    op.drop_table('substance')
