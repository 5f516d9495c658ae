"""Schema migrations run programmatically (``so1 db upgrade``, and ``so1 serve`` at start)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from so1.adapters.db.engine import WRITE_OPTION
from so1.adapters.db.partitions import SQLITE_ONLY, is_partition
from so1.adapters.db.schema import metadata

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent `so1 serve` start-ups on one PostgreSQL.
_ADVISORY_LOCK_ID = 0x50_31_4D_49
JOB_ENGINE_PREFIX = "procrastinate_"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe when several processes start at once."""
    # On SQLite the write option makes the migration BEGIN IMMEDIATE: it waits for another
    # starting server instead of failing with "database is locked" half-way.
    # On PostgreSQL the lock belongs to the migration's one transaction (DDL is transactional),
    # so it is released with it, also through PgBouncer in transaction mode, where a session
    # lock could be taken on one server connection and "released" on another.
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        command.upgrade(_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back to ``revision`` (``base`` removes every table)."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        command.downgrade(_config(conn), revision)
        conn.commit()


def _ours(name: str | None, type_: str, _parents: object) -> bool:
    """The job engine's tables (PostgreSQL) belong to procrastinate, not to our metadata;
    the weekly partitions of alerts and deliveries are their parent's."""
    table = type_ == "table" and (name or "")
    return not (table and (table.startswith(JOB_ENGINE_PREFIX) or is_partition(table)))


def _defined_here(dialect: str) -> Callable[..., bool]:
    """On PostgreSQL the partitioned tables hold no unique index (alert_open_keys and
    delivery_keys keep that uniqueness): leave SQLite's out of the comparison there."""

    def include(_object: object, name: str | None, type_: str, *_: object) -> bool:
        only_sqlite = type_ in ("index", "unique_constraint") and name in SQLITE_ONLY
        return not (dialect == "postgresql" and only_sqlite)

    return include


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the migrated database and the table definitions (want: none)."""
    with engine.connect() as conn:
        opts = {
            "compare_type": True,
            "include_name": _ours,
            "include_object": _defined_here(conn.dialect.name),
        }
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def make_revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a revision against a database at head."""
    with engine.connect() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)
        conn.commit()
