"""Alembic's environment: the migrations run on the connection app.store.migrate has opened, inside
its one transaction (and, on PostgreSQL, under its advisory lock)."""

from __future__ import annotations

from alembic import context

from app.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("troly's migrations run from app.store.migrate.upgrade, on a connection it opened")
# SQLite alters a table by copying it (batch mode): what ALTER TABLE cannot do there.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
