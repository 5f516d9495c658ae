"""Job engine tables (PostgreSQL only): procrastinate's schema, so `so1 worker` can run the
background work on procrastinate (queues, periodic tasks, locks, several workers).

procrastinate is pinned to one minor version in pyproject.toml because this revision applies
the schema that version ships. Moving to a newer procrastinate means a new revision that runs
its migration files (``procrastinate/sql/migrations``) for the versions in between.
SQLite databases are untouched: there the in-process runner does the work.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:20:00
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PREFIX = "procrastinate"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The schema is several statements; psycopg runs them as one script when no parameters
    # are passed, so hand it to the driver's cursor rather than to SQLAlchemy's text().
    cursor = bind.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(SchemaManager.get_schema())
    finally:
        cursor.close()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # What procrastinate's schema made, found by name, each with how to drop it.
    for query, drop in _OBJECTS:
        found = bind.execute(text(query), {"pattern": f"{PREFIX}\\_%"}).scalars()
        for name in list(found):
            op.execute(drop.format(name=name))


_OBJECTS = (
    (
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename LIKE :pattern",
        'DROP TABLE IF EXISTS "{name}" CASCADE',
    ),
    (
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = current_schema() AND p.proname LIKE :pattern",
        "DROP FUNCTION IF EXISTS {name} CASCADE",
    ),
    (
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = current_schema() AND t.typname LIKE :pattern"
        " AND t.typtype IN ('e', 'c')",
        'DROP TYPE IF EXISTS "{name}" CASCADE',
    ),
)
