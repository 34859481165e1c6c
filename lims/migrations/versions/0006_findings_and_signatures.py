"""findings, their substances and techniques, electronic signatures

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('printed_name', sa.String(length=200), nullable=False),
    sa.Column('meaning', sa.String(length=20), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=80), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_signature_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('amendment_reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('limitations', sa.Text(), nullable=False),
    sa.Column('cannabis', sa.Boolean(), nullable=False),
    sa.Column('same_aliquot_reason', sa.Text(), nullable=True),
    sa.Column('sampling_method', sa.String(length=40), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('proportion', sa.Float(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('negatives', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('selected_units_json', sa.Text(), nullable=False),
    sa.Column('tested', sa.Integer(), nullable=True),
    sa.Column('positives', sa.Integer(), nullable=True),
    sa.Column('sampling_statement', sa.Text(), nullable=False),
    sa.Column('net_weight_method', sa.String(length=20), nullable=True),
    sa.Column('unit_weights_json', sa.Text(), nullable=False),
    sa.Column('net_weight_mg', sa.BigInteger(), nullable=True),
    sa.Column('net_weight_lower_mg', sa.BigInteger(), nullable=True),
    sa.Column('net_weight_upper_mg', sa.BigInteger(), nullable=True),
    sa.Column('net_weight_confidence', sa.Float(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_finding_author_id_user')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_finding_reviewed_by_id_user')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_finding_sample_id_sample')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['finding.id'], name=op.f('fk_finding_supersedes_id_finding')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding')),
    sa.UniqueConstraint('sample_id', 'version', name=op.f('uq_finding_sample_id'))
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_sample_id'), ['sample_id'], unique=False)

    op.create_table('finding_substance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('salt_form', sa.String(length=120), nullable=False),
    sa.Column('purity_percent', sa.Float(), nullable=True),
    sa.Column('purity_uncertainty_percent', sa.Float(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_finding_substance_finding_id_finding')),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_finding_substance_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_substance'))
    )
    with op.batch_alter_table('finding_substance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_substance_finding_id'), ['finding_id'], unique=False)

    op.create_table('finding_technique',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('positive', sa.Boolean(), nullable=False),
    sa.Column('aliquot', sa.String(length=40), nullable=False),
    sa.Column('run', sa.String(length=120), nullable=False),
    sa.Column('measurement_id', sa.Integer(), nullable=True),
    sa.Column('search_hit_id', sa.Integer(), nullable=True),
    sa.Column('method_ref', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_finding_technique_finding_id_finding')),
    sa.ForeignKeyConstraint(['measurement_id'], ['measurement.id'], name=op.f('fk_finding_technique_measurement_id_measurement')),
    sa.ForeignKeyConstraint(['search_hit_id'], ['library_search_hit.id'], name=op.f('fk_finding_technique_search_hit_id_library_search_hit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_technique'))
    )
    with op.batch_alter_table('finding_technique', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_technique_finding_id'), ['finding_id'], unique=False)


def downgrade():
    with op.batch_alter_table('finding_technique', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_technique_finding_id'))
    op.drop_table('finding_technique')
    with op.batch_alter_table('finding_substance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_substance_finding_id'))
    op.drop_table('finding_substance')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_sample_id'))
    op.drop_table('finding')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_subject')
    op.drop_table('signature')
