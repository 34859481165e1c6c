"""instruments and measurements

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instrument',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=False),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('default_adapter', sa.String(length=20), nullable=False),
    sa.Column('calibration_due', sa.Date(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument')),
    sa.UniqueConstraint('name', name=op.f('uq_instrument_name'))
    )
    op.create_table('raw_file',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_raw_file'))
    )
    op.create_table('measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('adapter', sa.String(length=20), nullable=False),
    sa.Column('format_label', sa.String(length=80), nullable=False),
    sa.Column('parser_version', sa.String(length=40), nullable=False),
    sa.Column('warnings_json', sa.Text(), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('out_of_calibration', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], name=op.f('fk_measurement_instrument_id_instrument')),
    sa.ForeignKeyConstraint(['raw_sha256'], ['raw_file.sha256'], name=op.f('fk_measurement_raw_sha256_raw_file')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_measurement_sample_id_sample')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_measurement_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurement'))
    )
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measurement_raw_sha256'), ['raw_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_measurement_sample_id'), ['sample_id'], unique=False)

    op.create_table('spectrum',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measurement_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('block', sa.String(length=120), nullable=False),
    sa.Column('n_points', sa.Integer(), nullable=False),
    sa.Column('x_first', sa.Float(), nullable=True),
    sa.Column('x_last', sa.Float(), nullable=True),
    sa.Column('x_unit', sa.String(length=40), nullable=False),
    sa.Column('y_unit', sa.String(length=40), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=False),
    sa.Column('warnings_json', sa.Text(), nullable=False),
    sa.Column('x_data', sa.LargeBinary(), nullable=False),
    sa.Column('y_data', sa.LargeBinary(), nullable=False),
    sa.Column('peaks_x', sa.LargeBinary(), nullable=True),
    sa.Column('peaks_y', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['measurement_id'], ['measurement.id'], name=op.f('fk_spectrum_measurement_id_measurement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spectrum'))
    )
    with op.batch_alter_table('spectrum', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spectrum_measurement_id'), ['measurement_id'], unique=False)


def downgrade():
    with op.batch_alter_table('spectrum', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spectrum_measurement_id'))
    op.drop_table('spectrum')
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measurement_sample_id'))
        batch_op.drop_index(batch_op.f('ix_measurement_raw_sha256'))
    op.drop_table('measurement')
    op.drop_table('raw_file')
    op.drop_table('instrument')
