"""Alembic environment: runs on the connection the Store hands in (SQLite or PostgreSQL)."""

from alembic import context

from flightdeck.store import models_experiments, models_tenancy  # noqa: F401  (registers tables)
from flightdeck.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through flightdeck.store.Store.migrate()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
