"""Alembic's environment for matloop: runs the migrations on the connection that
``matloop.store.migrate`` holds (in its transaction, under its lock), passed in
``config.attributes["connection"]``. Online only: no SQL scripts, no alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import matloop.store.tables  # noqa: F401  (registers the tables in SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("matloop's migrations run from matloop.store.migrate, on a "
                       "connection it passes in; open the database with matloop instead")
context.configure(connection=connection, target_metadata=SQLModel.metadata)
with context.begin_transaction():
    context.run_migrations()
