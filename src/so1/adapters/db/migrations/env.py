"""Alembic environment: runs migrations on the connection handed over by so1.adapters.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from so1.adapters.db.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through `so1 db upgrade`, which supplies the connection")
_run(_connection)
