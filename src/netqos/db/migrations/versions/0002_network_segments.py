"""network segments: provider attributes of networks and the allocations that keep a
flat physnet, VLAN id or VXLAN id to one network

Revision ID: 0002_segments
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_segments'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('networks') as batch:
        # Networks made before segments existed stay on one host, as local ones.
        batch.add_column(sa.Column('network_type', sa.String(length=16), nullable=False,
                                   server_default='local'))
        batch.add_column(sa.Column('physical_network', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('segmentation_id', sa.Integer(), nullable=True))
    op.create_table('segment_allocations',
    sa.Column('network_type', sa.String(length=16), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=False),
    sa.Column('segmentation_id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_type', 'physical_network', 'segmentation_id'),
    sa.UniqueConstraint('network_id')
    )


def downgrade() -> None:
    op.drop_table('segment_allocations')
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('segmentation_id')
        batch.drop_column('physical_network')
        batch.drop_column('network_type')
