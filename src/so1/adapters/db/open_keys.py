"""Intake statements for PostgreSQL's partitioned tables (migration 0016).

A partitioned table holds no unique index without its partition key, so the identity of an
open alert is kept in ``alert_open_keys`` and each redelivery key in ``delivery_keys``;
``alert_last_resolved`` points at each identity's last resolved alert.
The keys are written in the writer's transaction, with the rows, each kind of statement in
one pipelined driver call per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    TextClause,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql

from so1.adapters.db import intake_tables as it
from so1.adapters.db.driver import DriverStatement
from so1.domain.alerts import AlertStatus

a, d, k, r = it.alerts, it.deliveries, it.alert_open_keys, it.alert_last_resolved
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _typed(table_columns: dict[str, object], names: tuple[str, ...]) -> str:
    return ", ".join(f"CAST(:{n} AS {table_columns[n]})" for n in names)


def _types(table: object) -> dict[str, object]:
    return {c.key: c.type.compile(dialect=_PG) for c in table.c}  # type: ignore[attr-defined]


def generic_plans(conn: Connection) -> None:
    """Until the transaction ends, prepared statements keep their generic plan. A statement
    naming one week (``id`` and ``stored_at`` as parameters) then opens only that week's
    partition, pruned when it starts; PostgreSQL's default would plan it anew on every run,
    its custom plan costing far less than the generic one over every week, and planning
    over every week costs more than running it."""
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")


def _key_upsert() -> Any:
    """The identity's key: inserted for a new alert, or locked and read (``alert_id`` then
    names the open alert, not the one offered)."""
    upsert = postgresql.insert(k)
    return upsert.on_conflict_do_update(
        index_elements=[k.c.source, k.c.dedup_key], set_={"alert_id": k.c.alert_id}
    ).returning(k.c.alert_id, k.c.stored_at)


_COUNT = (
    update(a)
    .where(a.c.id == bindparam("p_id"), a.c.stored_at == bindparam("p_stored_at"))
    .values(
        dedup_count=a.c.dedup_count + 1,
        last_seen_at=func.greatest(
            a.c.last_seen_at, bindparam("p_last_seen_at", type_=a.c.last_seen_at.type)
        ),
        summary=bindparam("p_summary", type_=a.c.summary.type),
        current_value=bindparam("p_current_value", type_=a.c.current_value.type),
        severity_hint=func.coalesce(
            bindparam("p_severity_hint", type_=a.c.severity_hint.type), a.c.severity_hint
        ),
    )
    .returning(*a.c)
)


@lru_cache(maxsize=4)
def _statements(
    dialect: Dialect, trigger_columns: tuple[str, ...]
) -> tuple[DriverStatement, DriverStatement, DriverStatement]:
    key_columns = ("source", "dedup_key", "alert_id", "stored_at")
    keys = DriverStatement(_key_upsert(), dialect, key_columns, [k.c.alert_id, k.c.stored_at])
    opened = DriverStatement(insert(a).returning(*a.c), dialect, trigger_columns, list(a.c))
    counted = DriverStatement(_COUNT, dialect, returning=list(a.c))
    return keys, opened, counted


def open_or_count(
    conn: Connection, rows: Sequence[Mapping[str, Any]], trigger_columns: tuple[str, ...]
) -> list[dict[str, Any] | None]:
    """Open an alert, or count a duplicate of the open one, for each row (distinct
    identities), as SQLite's upsert on the partial unique index does: first every key (one
    pipeline), then the new alerts and the counts (one each). The alerts are read by id and
    week (``stored_at``), so PostgreSQL opens one partition, not every week's. A key taken by
    a concurrent transaction waits for it; the count then runs in a later snapshot, which
    sees that alert."""
    keys, opened, counted = _statements(conn.dialect, trigger_columns)
    generic_plans(conn)
    found = keys.returning_each(conn, [{**row, "alert_id": row["id"]} for row in rows])
    holders = [(row, key) for row, key in zip(rows, found, strict=True) if key is not None]
    new = [row for row, key in holders if key["alert_id"] == row["id"]]
    repeats = [_count_params(row, key) for row, key in holders if key["alert_id"] != row["id"]]
    stored = {r["id"]: r for r in opened.returning_each(conn, new) if r is not None}
    by_identity = {_identity(r): r for r in counted.returning_each(conn, repeats) if r}
    return [stored.get(row["id"]) or by_identity.get(_identity(row)) for row in rows]


def _identity(row: Mapping[str, Any]) -> tuple[str, str]:
    return row["source"], row["dedup_key"]


def _count_params(row: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    names = ("last_seen_at", "summary", "current_value", "severity_hint")
    return {"p_id": key["alert_id"], "p_stored_at": key["stored_at"]} | {
        f"p_{name}": row[name] for name in names
    }


def resolved(conn: Connection, alert: Mapping[Any, Any]) -> None:
    """The alert is resolved: its identity is free for the next one, which finds it as the
    identity's last resolved alert (flap counting)."""
    if conn.dialect.name != "postgresql":
        return
    identity = (k.c.source == alert["source"], k.c.dedup_key == alert["dedup_key"])
    conn.execute(delete(k).where(*identity, k.c.alert_id == alert["id"]))
    row = {
        "source": alert["source"],
        "dedup_key": alert["dedup_key"],
        "alert_id": alert["id"],
        "stored_at": alert["stored_at"],
        "resolved_at": alert["resolved_at"],
    }
    upsert = postgresql.insert(r).values(row)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[r.c.source, r.c.dedup_key],
            set_={name: upsert.excluded[name] for name in ("alert_id", "stored_at", "resolved_at")},
            where=r.c.resolved_at <= upsert.excluded.resolved_at,
        )
    )


_LAST_RESOLVED_KEY = select(r.c.alert_id, r.c.stored_at).where(
    r.c.source == bindparam("source"), r.c.dedup_key == bindparam("dedup_key")
)
_RESOLVED_ALERT = select(a).where(
    a.c.id == bindparam("p_id"),
    a.c.stored_at == bindparam("p_stored_at"),
    a.c.status == AlertStatus.RESOLVED.value,
)


@lru_cache(maxsize=4)
def _last_resolved_statements(dialect: Dialect) -> tuple[DriverStatement, DriverStatement]:
    pointers = DriverStatement(_LAST_RESOLVED_KEY, dialect, returning=[r.c.alert_id, r.c.stored_at])
    return pointers, DriverStatement(_RESOLVED_ALERT, dialect, returning=list(a.c))


def last_resolved(
    conn: Connection, identities: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any] | None]:
    """Each identity's last resolved alert: its pointer, then the alert in its week."""
    pointers, alerts = _last_resolved_statements(conn.dialect)
    generic_plans(conn)
    found = pointers.returning_each(conn, identities)
    wanted = [{"p_id": p["alert_id"], "p_stored_at": p["stored_at"]} for p in found if p]
    by_id = {row["id"]: row for row in alerts.returning_each(conn, wanted) if row}
    return [by_id.get(p["alert_id"]) if p else None for p in found]


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
