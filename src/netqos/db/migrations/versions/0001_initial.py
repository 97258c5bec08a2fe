"""initial schema: QoS policies and rules, networks, subnets, ports, routers, floating IPs,
RBAC, tags, agents and the change sequence

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
    op.create_table('agents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('agent_type', sa.String(length=64), nullable=False),
    sa.Column('backends', sa.JSON(), nullable=False),
    sa.Column('capabilities', sa.JSON(), nullable=False),
    sa.Column('uplinks', sa.JSON(), nullable=False),
    sa.Column('configurations', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host', 'agent_type', name='uniq_agents0host0type')
    )
    op.create_table('host_revisions',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )
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

    op.create_table('revision_counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('tags',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'tag')
    )
    op.create_table('networks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('router_external', sa.Boolean(), nullable=False),
    sa.Column('mtu', sa.Integer(), nullable=False),
    sa.Column('qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_networks_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_networks_qos_policy_id'), ['qos_policy_id'], unique=False)

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

    op.create_table('ports',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('mac_address', sa.String(length=32), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('device_owner', sa.String(length=255), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('vnic_type', sa.String(length=64), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('qos_revision', sa.BigInteger(), nullable=False),
    sa.Column('qos_applied_revision', sa.BigInteger(), nullable=True),
    sa.Column('qos_status', sa.String(length=16), nullable=False),
    sa.Column('qos_status_reason', sa.String(length=1024), nullable=False),
    sa.Column('qos_drift', sa.JSON(), nullable=False),
    sa.Column('qos_drift_at', sa.DateTime(), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], ),
    sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'mac_address', name='uniq_ports0network_id0mac_address')
    )
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ports_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ports_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_ports_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ports_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ports_qos_policy_id'), ['qos_policy_id'], unique=False)

    op.create_table('subnets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('cidr', sa.String(length=64), nullable=False),
    sa.Column('gateway_ip', sa.String(length=64), nullable=True),
    sa.Column('allocation_pools', sa.JSON(), nullable=False),
    sa.Column('enable_dhcp', sa.Boolean(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subnets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subnets_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subnets_project_id'), ['project_id'], unique=False)

    op.create_table('ip_allocations',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subnet_id'], ['subnets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id', 'subnet_id', 'ip_address'),
    sa.UniqueConstraint('subnet_id', 'ip_address', name='uniq_ip_allocations0subnet0ip')
    )
    op.create_table('routers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('gw_port_id', sa.String(length=36), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('gw_qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['gw_port_id'], ['ports.id'], ),
    sa.ForeignKeyConstraint(['gw_qos_policy_id'], ['qos_policies.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routers_gw_qos_policy_id'), ['gw_qos_policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routers_project_id'), ['project_id'], unique=False)

    op.create_table('floatingips',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('floating_network_id', sa.String(length=36), nullable=False),
    sa.Column('floating_port_id', sa.String(length=36), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('port_id', sa.String(length=36), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.Column('qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['floating_network_id'], ['networks.id'], ),
    sa.ForeignKeyConstraint(['floating_port_id'], ['ports.id'], ),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ),
    sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('floatingips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_floatingips_port_id'), ['port_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_qos_policy_id'), ['qos_policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_router_id'), ['router_id'], unique=False)

    # The change sequence starts at 0; its row exists so that writers only ever UPDATE it.
    op.bulk_insert(sa.table("revision_counters", sa.column("name", sa.String),
                            sa.column("value", sa.BigInteger)), [{"name": "qos", "value": 0}])


def downgrade() -> None:
    with op.batch_alter_table('floatingips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_floatingips_router_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_qos_policy_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_project_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_port_id'))

    op.drop_table('floatingips')
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routers_project_id'))
        batch_op.drop_index(batch_op.f('ix_routers_gw_qos_policy_id'))

    op.drop_table('routers')
    op.drop_table('ip_allocations')
    with op.batch_alter_table('subnets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subnets_project_id'))
        batch_op.drop_index(batch_op.f('ix_subnets_network_id'))

    op.drop_table('subnets')
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ports_qos_policy_id'))
        batch_op.drop_index(batch_op.f('ix_ports_project_id'))
        batch_op.drop_index(batch_op.f('ix_ports_network_id'))
        batch_op.drop_index(batch_op.f('ix_ports_host'))
        batch_op.drop_index(batch_op.f('ix_ports_device_id'))

    op.drop_table('ports')
    with op.batch_alter_table('qos_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qos_rules_qos_policy_id'))

    op.drop_table('qos_rules')
    op.drop_table('qos_policy_defaults')
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_networks_qos_policy_id'))
        batch_op.drop_index(batch_op.f('ix_networks_project_id'))

    op.drop_table('networks')
    op.drop_table('tags')
    op.drop_table('revision_counters')
    with op.batch_alter_table('rbac_policies', schema=None) as batch_op:
        batch_op.drop_index('ix_rbac_object')

    op.drop_table('rbac_policies')
    with op.batch_alter_table('qos_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qos_policies_project_id'))

    op.drop_table('qos_policies')
    op.drop_table('host_revisions')
    op.drop_table('agents')
