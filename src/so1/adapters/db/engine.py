"""Engine construction: SQLite with WAL, foreign keys and IMMEDIATE write transactions;
PostgreSQL through psycopg 3 with a connection pool."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from so1.adapters.db import json_codec
from so1.adapters.db.write_lock import SqliteWriteLock

WRITE_OPTION = "so1_write"

# SQLite allows one writer. Queuing writers on a lock is fairer than letting them spin in
# SQLite's busy handler, which gave PATCH a p99 of ~400 ms at 8 concurrent clients; on a file
# the lock is shared with SO1's other processes (write_lock.py). Other programs still meet the
# busy timeout.
_SQLITE_WRITE_LOCKS: WeakKeyDictionary[Engine, SqliteWriteLock] = WeakKeyDictionary()


def sqlite_write_lock(engine: Engine) -> SqliteWriteLock | None:
    """The process-wide writer lock of a SQLite engine; None for other databases."""
    return _SQLITE_WRITE_LOCKS.get(engine)


def build_engine(
    url: str,
    pool_size: int = 10,
    echo: bool = False,
    *,
    application_name: str | None = None,
    prepared_statements: bool = True,
) -> Engine:
    """PostgreSQL: at most ``pool_size`` connections, never more (no overflow: a request
    waits up to 10 s for one), named ``application_name`` in pg_stat_activity; without
    ``prepared_statements`` psycopg prepares nothing (PgBouncer in transaction mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo)
    return create_engine(
        url,
        echo=echo,
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args=postgres_connect_options(application_name, prepared_statements)
        | {"connect_timeout": 5},
    )


def postgres_connect_options(
    application_name: str | None, prepared_statements: bool
) -> dict[str, Any]:
    """psycopg connection options shared by the engine and the job engine's pool."""
    options: dict[str, Any] = {}
    if application_name:
        options["application_name"] = application_name
    if not prepared_statements:
        options["prepare_threshold"] = None
    return options


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: str, echo: bool) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    database = engine.url.database
    in_memory = database in (None, "", ":memory:")
    _SQLITE_WRITE_LOCKS[engine] = SqliteWriteLock(None if in_memory else database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so writes can BEGIN IMMEDIATE (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front; a deferred BEGIN that later writes
        # can fail with SQLITE_BUSY instead of waiting when another writer is active.
        if conn.get_execution_options().get(WRITE_OPTION, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine
