"""Schema migrations with Alembic: `netqos db upgrade`, and on every server start."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several servers may start at once on one database: one migrates at a time.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(424242)")
        command.upgrade(alembic_config(conn), revision)
