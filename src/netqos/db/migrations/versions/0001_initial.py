"""initial schema: QoS policies, rules, defaults, tags, RBAC

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('qos_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('qos_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qos_policies_project_id'), ['project_id'], unique=False)

    op.create_table('rbac_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_project', sa.String(length=255), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_type', 'object_id', 'action', 'target_project', name='uniq_rbac0object0action0target')
    )
    with op.batch_alter_table('rbac_policies', schema=None) as batch_op:
        batch_op.create_index('ix_rbac_object', ['object_type', 'object_id'], unique=False)

    op.create_table('tags',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'tag')
    )
    op.create_table('qos_policy_defaults',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('qos_policy_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id'),
    sa.UniqueConstraint('qos_policy_id')
    )
    op.create_table('qos_rules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('qos_policy_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('max_kbps', sa.Integer(), nullable=True),
    sa.Column('max_burst_kbps', sa.Integer(), nullable=True),
    sa.Column('min_kbps', sa.Integer(), nullable=True),
    sa.Column('dscp_mark', sa.Integer(), nullable=True),
    sa.Column('max_kpps', sa.Integer(), nullable=True),
    sa.Column('max_burst_kpps', sa.Integer(), nullable=True),
    sa.Column('min_kpps', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('qos_policy_id', 'type', 'direction', name='uniq_qos_rules0policy0type0direction')
    )
    with op.batch_alter_table('qos_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qos_rules_qos_policy_id'), ['qos_policy_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('qos_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qos_rules_qos_policy_id'))

    op.drop_table('qos_rules')
    op.drop_table('qos_policy_defaults')
    op.drop_table('tags')
    with op.batch_alter_table('rbac_policies', schema=None) as batch_op:
        batch_op.drop_index('ix_rbac_object')

    op.drop_table('rbac_policies')
    with op.batch_alter_table('qos_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qos_policies_project_id'))

    op.drop_table('qos_policies')
