"""agent rows per backend: a host may run one port agent per backend (linuxtc for its
taps, sriov for its VFs), each with its own row and the support table it reported

Revision ID: 0003_agent_backends
Revises: 0002_segments
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_agent_backends'
down_revision = '0002_segments'
branch_labels = None
depends_on = None

agents = sa.table('agents', sa.column('id', sa.String), sa.column('backend', sa.String),
                  sa.column('backends', sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table('agents') as batch:
        batch.add_column(sa.Column('backend', sa.String(length=64), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('support', sa.JSON(), nullable=True))
        batch.drop_constraint('uniq_agents0host0type', type_='unique')
        batch.create_unique_constraint('uniq_agents0host0type0backend',
                                       ['host', 'agent_type', 'backend'])
    # An existing row is its agent's first backend's (what a new heartbeat would key on).
    conn = op.get_bind()
    for row in conn.execute(sa.select(agents.c.id, agents.c.backends)).all():
        if row.backends:
            conn.execute(agents.update().where(agents.c.id == row.id)
                         .values(backend=str(row.backends[0])[:64]))


def downgrade() -> None:
    # Keep one row per (host, agent type): the others cannot fit the old key.
    conn = op.get_bind()
    full = sa.table('agents', sa.column('id', sa.String), sa.column('host', sa.String),
                    sa.column('agent_type', sa.String))
    seen = set()
    for row in conn.execute(sa.select(full.c.id, full.c.host, full.c.agent_type)
                            .order_by(full.c.id)).all():
        if (row.host, row.agent_type) in seen:
            conn.execute(full.delete().where(full.c.id == row.id))
        seen.add((row.host, row.agent_type))
    with op.batch_alter_table('agents') as batch:
        batch.drop_constraint('uniq_agents0host0type0backend', type_='unique')
        batch.create_unique_constraint('uniq_agents0host0type', ['host', 'agent_type'])
        batch.drop_column('support')
        batch.drop_column('backend')
