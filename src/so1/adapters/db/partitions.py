"""Weekly partitions of the two tables that grow with every request, on PostgreSQL
(migration 0016): ``alerts`` by ``stored_at``, ``deliveries`` by ``received_at``.

Each week is ``<table>_wYYYYMMDD`` (its Monday, UTC) over [Monday, next Monday); rows no
week holds go to ``<table>_default``, so nothing is ever refused. The clocks job creates the
current and the next week ahead (``prepare_weeks``) and drops whole weeks past retention
(``drop_expired_weeks``). SQLite keeps plain tables (``is_partitioned`` is False there).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from so1.domain.incidents import IncidentStatus

log = logging.getLogger("so1.retention")

PARTITION_KEYS = {"alerts": "stored_at", "deliveries": "received_at"}
# Unique indexes only SQLite's plain tables hold (migrate.schema_drift leaves them out on
# PostgreSQL, where alert_open_keys and delivery_keys keep that uniqueness).
SQLITE_ONLY = frozenset({"uq_alerts_open_identity", "uq_deliveries_source_key"})
_PARTITION = re.compile(r"^(alerts|deliveries)_(w\d{8}|default)$")
_WEEK = re.compile(r"^(?:alerts|deliveries)_w(\d{8})$")
WEEK = timedelta(weeks=1)
LOCK_TIMEOUT = "2s"  # DDL waits at most this long for intake's locks, then tries next pass

OPEN_INCIDENTS = ", ".join(f"'{s.value}'" for s in IncidentStatus if s.is_open)
# A stored alert retention may remove: resolved, not seen nor resolved since the cutoff,
# and not part of an open incident.
EXPIRED_ALERT = (
    "status = 'resolved' AND last_seen_at < :cutoff"
    " AND COALESCE(resolved_at, last_seen_at) < :cutoff"
    f" AND (incident_id IS NULL OR incident_id NOT IN"
    f" (SELECT id FROM incidents WHERE status IN ({OPEN_INCIDENTS})))"
)


def is_partition(name: str) -> bool:
    return bool(_PARTITION.match(name))


def is_partitioned(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def week_start(at: datetime) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def week_name(table: str, start: datetime) -> str:
    return f"{table}_w{start:%Y%m%d}"


def prepare_weeks(conn: Connection, now: datetime, ahead: int = 1) -> list[str]:
    """Create this week's partition and ``ahead`` more of each table where missing; the
    names created. A week whose rows already sit in the default partition (the job did not
    run for a week) is left there: retention empties the default partition row by row."""
    created = []
    for table, key in PARTITION_KEYS.items():
        for n in range(ahead + 1):
            start = week_start(now) + n * WEEK
            name = week_name(table, start)
            if _exists(conn, name) or _default_holds(conn, table, key, start):
                continue
            bounds = f"FROM ('{start.isoformat()}') TO ('{(start + WEEK).isoformat()}')"
            ddl = f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES {bounds}"
            with _ddl(conn, name) as ok:
                conn.execute(text(ddl))
            if ok:
                created.append(name)
    return created


def drop_expired_weeks(
    conn: Connection, alerts_before: datetime, deliveries_before: datetime
) -> list[str]:
    """Drop each week that ended before its table's cutoff, unless an alert in it is not
    expired (``EXPIRED_ALERT``: still open, seen or resolved since, or in an open
    incident). Deliveries are records of requests: their whole week goes. Returns the names."""
    dropped = []
    for table, before in (("alerts", alerts_before), ("deliveries", deliveries_before)):
        for name, start in weeks_of(conn, table):
            if start + WEEK > before or (table == "alerts" and _kept(conn, name, before)):
                continue
            with _ddl(conn, name) as ok:
                conn.execute(text(f"DROP TABLE {name}"))
            if ok:
                dropped.append(name)
    if dropped:
        log.info("retention dropped %s", ", ".join(dropped))
    return dropped


def weeks_of(conn: Connection, table: str) -> list[tuple[str, datetime]]:
    """The weekly partitions of ``table``, oldest first."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    ).scalars()
    found = [(n, m.group(1)) for n in names if (m := _WEEK.match(n))]
    weeks = [(n, datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)) for n, day in found]
    return sorted(weeks, key=lambda week: week[1])


def _kept(conn: Connection, partition: str, cutoff: datetime) -> bool:
    query = f"SELECT EXISTS (SELECT 1 FROM {partition} WHERE NOT ({EXPIRED_ALERT}))"
    return bool(conn.execute(text(query), {"cutoff": cutoff}).scalar_one())


def _exists(conn: Connection, name: str) -> bool:
    found = conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar_one()
    return found is not None


def _default_holds(conn: Connection, table: str, key: str, start: datetime) -> bool:
    query = f"SELECT EXISTS (SELECT 1 FROM {table}_default WHERE {key} >= :lo AND {key} < :hi)"
    held = conn.execute(text(query), {"lo": start, "hi": start + WEEK}).scalar_one()
    if held:
        log.warning("%s rows of the week of %s are in %s_default", table, f"{start:%F}", table)
    return bool(held)


class _Outcome:
    def __init__(self) -> None:
        self.ok = False

    def __bool__(self) -> bool:
        return self.ok


@contextmanager
def _ddl(conn: Connection, name: str) -> Iterator[_Outcome]:
    """One partition's DDL in a savepoint, waiting at most ``LOCK_TIMEOUT`` for the parent's
    lock: under heavy intake it gives up (logged) and the next pass tries again."""
    outcome = _Outcome()
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        yield outcome
        savepoint.commit()
        outcome.ok = True
    except DBAPIError as exc:
        savepoint.rollback()
        log.warning("partition %s left for the next pass: %s", name, exc.orig)
