"""GRE networks: segmentation ids up to 2**32-1 (a GRE key is 32 bits), beyond
PostgreSQL's INTEGER, so the two segmentation_id columns become BIGINT there (SQLite's
INTEGER holds 64 bits already)

Revision ID: 0004_gre_keys
Revises: 0003_agent_backends
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_gre_keys'
down_revision = '0003_agent_backends'
branch_labels = None
depends_on = None

COLUMNS = (('networks', True), ('segment_allocations', False))   # (table, nullable)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return   # its INTEGER is 64 bits; a type change would rebuild (and cascade)
    for table, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('segmentation_id', existing_type=sa.Integer(),
                               type_=sa.BigInteger(), existing_nullable=nullable)


def downgrade() -> None:
    # A GRE key above INTEGER's range cannot go back: those networks must go first.
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('segmentation_id', existing_type=sa.BigInteger(),
                               type_=sa.Integer(), existing_nullable=nullable)
