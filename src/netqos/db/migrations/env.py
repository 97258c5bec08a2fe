"""Alembic environment: the URL and connection come from netqos.db.migrate."""
from alembic import context

from netqos.db.models import Base

config = context.config
connection = config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
