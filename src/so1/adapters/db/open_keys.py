"""Intake statements for PostgreSQL's partitioned tables (migration 0016).

A partitioned table holds no unique index without its partition key, so the identity of an
open alert is kept in ``alert_open_keys`` and each redelivery key in ``delivery_keys``.
Each statement below writes the key and the row in one statement (data-modifying CTEs), so
they share the writer's transaction and its one pipelined driver call per batch.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Dialect, TextClause, bindparam, delete, text
from sqlalchemy.dialects import postgresql

from so1.adapters.db import intake_tables as it
from so1.adapters.db.driver import DriverStatement

a, d, k = it.alerts, it.deliveries, it.alert_open_keys
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _typed(table_columns: dict[str, object], names: tuple[str, ...]) -> str:
    return ", ".join(f"CAST(:{n} AS {table_columns[n]})" for n in names)


def _types(table: object) -> dict[str, object]:
    return {c.key: c.type.compile(dialect=_PG) for c in table.c}  # type: ignore[attr-defined]


def open_or_count(trigger_columns: tuple[str, ...]) -> TextClause:
    """Open an alert, or count a duplicate of the open one, as SQLite's upsert on the
    partial unique index does. The key row is inserted, or locked and read when another
    alert holds it (``opened`` is false: the alert id it returns is not ours). A duplicate
    whose alert a concurrent transaction committed after this statement's snapshot finds
    no alert row to count: the statement returns nothing and the caller runs it again."""
    columns = ", ".join(trigger_columns)
    every = ", ".join(c.key for c in a.c)
    counted = ", ".join(f"a.{c.key}" for c in a.c)
    values = _typed(_types(a), trigger_columns)
    return text(f"""
WITH key AS (
    INSERT INTO alert_open_keys AS k (source, dedup_key, alert_id, stored_at)
    VALUES (:source, :dedup_key, :id, CAST(:stored_at AS TIMESTAMP WITH TIME ZONE))
    ON CONFLICT (source, dedup_key) DO UPDATE SET alert_id = k.alert_id
    RETURNING k.alert_id, k.stored_at, k.alert_id = :id AS opened
), opened AS (
    INSERT INTO alerts ({columns}) SELECT {values} FROM key WHERE key.opened
    RETURNING {every}
), counted AS (
    UPDATE alerts AS a SET
        dedup_count = a.dedup_count + 1,
        last_seen_at = GREATEST(a.last_seen_at, CAST(:last_seen_at AS TIMESTAMP WITH TIME ZONE)),
        summary = CAST(:summary AS TEXT),
        current_value = CAST(:current_value AS VARCHAR),
        severity_hint = COALESCE(CAST(:severity_hint AS VARCHAR), a.severity_hint)
    FROM key
    WHERE NOT key.opened AND a.id = key.alert_id AND a.stored_at = key.stored_at
    RETURNING {counted}
)
SELECT * FROM opened UNION ALL SELECT * FROM counted
""").bindparams(*(bindparam(n, type_=a.c[n].type) for n in trigger_columns))


@lru_cache(maxsize=4)
def driver_open_or_count(dialect: Dialect, trigger_columns: tuple[str, ...]) -> DriverStatement:
    return DriverStatement(open_or_count(trigger_columns), dialect, returning=list(a.c))


def release(conn: Connection, source: str, dedup_key: str, alert_id: str) -> None:
    """The alert is resolved: its identity is free for the next one."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            delete(k).where(
                k.c.source == source, k.c.dedup_key == dedup_key, k.c.alert_id == alert_id
            )
        )


def store_keyed(delivery_columns: tuple[str, ...], window_seconds: int) -> TextClause:
    """Store a delivery unless its key was seen within the redelivery window: the key row is
    inserted, or moved on to this delivery when the one it names is older than the window;
    else nothing is stored and no id returned (a concurrent one waits for the first)."""
    columns = [c for c in delivery_columns if c != "id"]
    values = _typed(_types(d), tuple(columns))
    return text(f"""
WITH fresh AS (
    INSERT INTO delivery_keys AS k (source, delivery_key, received_at)
    VALUES (:source, :delivery_key, CAST(:received_at AS TIMESTAMP WITH TIME ZONE))
    ON CONFLICT (source, delivery_key) DO UPDATE SET received_at = EXCLUDED.received_at
    WHERE k.received_at < EXCLUDED.received_at - INTERVAL '{window_seconds} seconds'
    RETURNING 1
)
INSERT INTO deliveries ({", ".join(columns)}) SELECT {values} FROM fresh RETURNING id
""").bindparams(*(bindparam(n, type_=d.c[n].type) for n in columns))


@lru_cache(maxsize=4)
def driver_store_keyed(
    dialect: Dialect, delivery_columns: tuple[str, ...], window_seconds: int
) -> DriverStatement:
    statement = store_keyed(delivery_columns, window_seconds)
    return DriverStatement(statement, dialect, returning=[d.c.id])
