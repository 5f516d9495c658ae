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
    ARRAY,
    Connection,
    Dialect,
    String,
    TextClause,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from so1.adapters.db import intake_tables as it
from so1.adapters.db.driver import DriverStatement
from so1.domain.alerts import AlertStatus

IDENTITY = ("source", "dedup_key")  # an alert's identity: what returned rows are matched on
a, d, k, r = it.alerts, it.deliveries, it.alert_open_keys, it.alert_last_resolved
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_GENERIC_PLANS_IN = "so1.generic_plans_in"  # conn.info: the transaction they were set in


def _typed(table_columns: dict[str, object], names: tuple[str, ...]) -> str:
    return ", ".join(f"CAST(:{n} AS {table_columns[n]})" for n in names)


def _types(table: object) -> dict[str, object]:
    return {c.key: c.type.compile(dialect=_PG) for c in table.c}  # type: ignore[attr-defined]


def generic_plans(conn: Connection) -> None:
    """Until the transaction ends, prepared statements keep their generic plan. A statement
    naming one week (``id`` and ``stored_at`` as parameters) then opens only that week's
    partition, pruned when it starts; PostgreSQL's default would plan it anew on every run,
    its custom plan costing far less than the generic one over every week, and planning
    over every week costs more than running it. Said once per transaction (a batch asks for
    it twice): the connection remembers the transaction it was said in."""
    transaction = conn.get_transaction()
    if transaction is not None and conn.info.get(_GENERIC_PLANS_IN) is transaction:
        return
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    conn.info[_GENERIC_PLANS_IN] = transaction


def _key_upsert() -> Any:
    """The identity's key: inserted for a new alert, or locked and read (``alert_id`` then
    names the open alert, not the one offered)."""
    upsert = postgresql.insert(k)
    return upsert.on_conflict_do_update(
        index_elements=[k.c.source, k.c.dedup_key], set_={"alert_id": k.c.alert_id}
    ).returning(k.c.source, k.c.dedup_key, k.c.alert_id, k.c.stored_at)


# Each column of a count and its array's type (no length: a cast to VARCHAR(n) would cut a
# longer text, where assigning it to the column refuses it).
_COUNTED = {
    "id": "VARCHAR",
    "stored_at": "TIMESTAMP WITH TIME ZONE",
    "last_seen_at": "TIMESTAMP WITH TIME ZONE",
    "summary": "TEXT",
    "current_value": "VARCHAR",
    "severity_hint": "VARCHAR",
}


def _count() -> TextClause:
    """Count a repeat of each open alert, all of the batch's in one statement (the alerts go
    as one array per column; each alert at most once, as the batch's identities are
    distinct): one more sighting, the latest summary and value, the hint if one is given."""
    arrays = ", ".join(f"CAST(:p_{n} AS {kind}[])" for n, kind in _COUNTED.items())
    returned = ", ".join(f"a.{c.name}" for c in a.c)
    return text(f"""
UPDATE alerts AS a SET dedup_count = a.dedup_count + 1,
    last_seen_at = greatest(a.last_seen_at, v.last_seen_at),
    summary = v.summary, current_value = v.current_value,
    severity_hint = coalesce(v.severity_hint, a.severity_hint)
FROM unnest({arrays}) AS v({", ".join(_COUNTED)})
WHERE a.id = v.id AND a.stored_at = v.stored_at
RETURNING {returned}
""").bindparams(*(bindparam(f"p_{n}", type_=ARRAY(_unsized(a.c[n].type))) for n in _COUNTED))


def _unsized(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    return String() if isinstance(kind, String) else kind


@lru_cache(maxsize=4)
def _statements(
    dialect: Dialect, trigger_columns: tuple[str, ...]
) -> tuple[DriverStatement, DriverStatement, DriverStatement]:
    key_columns = ("source", "dedup_key", "alert_id", "stored_at")
    returned = [k.c.source, k.c.dedup_key, k.c.alert_id, k.c.stored_at]
    keys = DriverStatement(_key_upsert(), dialect, key_columns, returned)
    opened = DriverStatement(insert(a).returning(*a.c), dialect, trigger_columns, list(a.c))
    counted = DriverStatement(_count(), dialect, returning=list(a.c))
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
    offered = [{**row, "alert_id": row["id"]} for row in rows]
    found = keys.returning_by_key(conn, offered, IDENTITY)
    holders = [(row, key) for row, key in zip(rows, found, strict=True) if key is not None]
    new = [row for row, key in holders if key["alert_id"] == row["id"]]
    repeats = [_count_params(row, key) for row, key in holders if key["alert_id"] != row["id"]]
    counts = {f"p_{n}": [repeat[n] for repeat in repeats] for n in _COUNTED}
    stored = {r["id"]: r for r in opened.returning_by_key(conn, new, ("id",)) if r is not None}
    by_identity = {_identity(r): r for r in counted.all_returned(conn, counts)} if repeats else {}
    return [stored.get(row["id"]) or by_identity.get(_identity(row)) for row in rows]


def _identity(row: Mapping[str, Any]) -> tuple[str, str]:
    return row["source"], row["dedup_key"]


def _count_params(row: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    found = {"id": key["alert_id"], "stored_at": key["stored_at"]}
    return found | {name: row[name] for name in _COUNTED if name not in found}


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


# The identities' pointers in one statement: the identities go as two arrays, not as one
# pipelined statement each.
_LAST_RESOLVED_KEYS = text(
    "SELECT r.source, r.dedup_key, r.alert_id, r.stored_at FROM alert_last_resolved AS r"
    " JOIN unnest(CAST(:sources AS VARCHAR[]), CAST(:keys AS VARCHAR[])) AS v(source, dedup_key)"
    " ON r.source = v.source AND r.dedup_key = v.dedup_key"
).bindparams(bindparam("sources", type_=ARRAY(String)), bindparam("keys", type_=ARRAY(String)))
_RESOLVED_ALERT = select(a).where(
    a.c.id == bindparam("p_id"),
    a.c.stored_at == bindparam("p_stored_at"),
    a.c.status == AlertStatus.RESOLVED.value,
)


@lru_cache(maxsize=4)
def _last_resolved_statements(dialect: Dialect) -> tuple[DriverStatement, DriverStatement]:
    returned = [r.c.source, r.c.dedup_key, r.c.alert_id, r.c.stored_at]
    pointers = DriverStatement(_LAST_RESOLVED_KEYS, dialect, returning=returned)
    return pointers, DriverStatement(_RESOLVED_ALERT, dialect, returning=list(a.c))


def last_resolved(
    conn: Connection, identities: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any] | None]:
    """Each identity's last resolved alert: its pointer, then the alert in its week."""
    pointers, alerts = _last_resolved_statements(conn.dialect)
    generic_plans(conn)
    sources, keys = [i["source"] for i in identities], [i["dedup_key"] for i in identities]
    asked = {"sources": sources, "keys": keys}
    known = {_identity(p): p for p in pointers.all_returned(conn, asked)} if identities else {}
    found = [known.get(_identity(i)) for i in identities]
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
