"""Alert statements built once at import. Building a SQLAlchemy statement per call (clauses,
coercions, cache keys) cost several times what SQLite took to run it, on the two hot paths:
intake (the upsert) and the triage worker (claim, correlate, attach, finish)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Dialect,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from so1.adapters.db import intake_tables as it, tables as t
from so1.adapters.db.driver import DriverStatement
from so1.domain.alerts import AlertStatus
from so1.domain.incidents import IncidentStatus

a = it.alerts
i = t.incidents
# Parameter names must differ from column names: UPDATE reserves those for its SET clause.
IDS: BindParameter[list[str]] = bindparam("p_ids", expanding=True)
SERVICES: BindParameter[list[str]] = bindparam("p_services", expanding=True)
OPEN_INCIDENT = [s.value for s in IncidentStatus if s.is_open]


def _upsert(dialect_insert: Any, newest: Any) -> Any:
    """Open an alert, or count a duplicate of the open one."""
    insert = dialect_insert(a)
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[a.c.source, a.c.dedup_key],
        # Literal SQL: with a bound parameter PostgreSQL cannot match the partial index once
        # psycopg prepares the statement (after 5 runs).
        index_where=it.OPEN_ALERT,
        set_={
            "dedup_count": a.c.dedup_count + 1,
            "last_seen_at": newest(a.c.last_seen_at, excluded.last_seen_at),
            "summary": excluded.summary,
            "current_value": excluded.current_value,
            "severity_hint": func.coalesce(excluded.severity_hint, a.c.severity_hint),
        },
    ).returning(*a.c)


UPSERT = {
    "sqlite": _upsert(sqlite.insert, func.max),
    "postgresql": _upsert(postgresql.insert, func.greatest),
}

# The columns intake gives a new alert; the others keep their defaults.
TRIGGER_COLUMNS = (
    "id", "source", "dedup_key", "status", "summary", "service", "metric", "current_value",
    "threshold", "severity_hint", "labels", "details", "is_test", "dedup_count",
    "integration_id", "first_seen_at", "last_seen_at", "triage_state", "stored_at",
)  # fmt: skip


@lru_cache(maxsize=16)
def driver_upsert(dialect: Dialect) -> DriverStatement:
    """The intake upsert run with the driver (the writer's hot path) on SQLite; PostgreSQL's
    partitioned table goes through the open identities' own table (open_keys.py)."""
    return DriverStatement(UPSERT[dialect.name], dialect, TRIGGER_COLUMNS, list(a.c))


LAST_RESOLVED = (
    select(a)
    .where(
        a.c.source == bindparam("source"),
        a.c.dedup_key == bindparam("dedup_key"),
        a.c.status == AlertStatus.RESOLVED.value,
    )
    .order_by(a.c.resolved_at.desc())
    .limit(1)
)


@lru_cache(maxsize=16)
def driver_last_resolved(dialect: Dialect) -> DriverStatement:
    """SQLite; PostgreSQL reads alert_last_resolved, then one week (open_keys.py)."""
    return DriverStatement(LAST_RESOLVED, dialect, returning=list(a.c))


def claimable_condition(stale: bool) -> ColumnElement[bool]:
    """Waiting for triage; with ``stale``, claimed before ``p_stale`` instead."""
    if stale:
        return (a.c.triage_state == "processing") & (a.c.triage_claimed_at < bindparam("p_stale"))
    return a.c.triage_state == "pending"


def _claimable(stale: bool, postgres: bool) -> Select[Any]:
    """Two index range scans on (triage_state, first_seen_at): an OR of both conditions made
    the planner scan the whole table, which with a million stored alerts halved intake."""
    query = select(a.c.id).where(claimable_condition(stale)).order_by(a.c.first_seen_at, a.c.id)
    query = query.limit(bindparam("p_limit"))
    return query.with_for_update(skip_locked=True) if postgres else query


def _waiting(stale: bool) -> Select[Any]:
    """The ids and services of the oldest claimable alerts, read without locking: a worker
    locks their dependency groups first, then claims only those (``_claimable_among``)."""
    claimable = _claimable(stale, postgres=False)
    return claimable.with_only_columns(a.c.id, a.c.service, a.c.stored_at)


def _claimable_among(stale: bool, postgres: bool) -> Select[Any]:
    return _claimable(stale, postgres).where(a.c.id.in_(IDS))


CLAIMABLE = {
    (stale, dialect): _claimable(stale, dialect == "postgresql")
    for stale in (False, True)
    for dialect in ("sqlite", "postgresql")
}
WAITING = {stale: _waiting(stale) for stale in (False, True)}
CLAIMABLE_AMONG = {
    (stale, dialect): _claimable_among(stale, dialect == "postgresql")
    for stale in (False, True)
    for dialect in ("sqlite", "postgresql")
}
CLAIM = (
    update(a)
    .where(a.c.id.in_(IDS))
    .values(triage_state="processing", triage_claimed_at=bindparam("p_now"))
    .returning(*a.c)
)
FINISH = (
    update(a)
    .where(a.c.id == bindparam("p_id"))
    .values(triage_state=bindparam("p_state"), triage_run_id=bindparam("p_run"))
)
FINISH_MANY = update(a).where(a.c.id.in_(IDS)).values(triage_state=bindparam("p_state"))
ATTACH = update(a).where(a.c.id.in_(IDS)).values(incident_id=bindparam("p_incident"))
COUNT_FOR_INCIDENT = select(func.count()).select_from(a).where(a.c.incident_id == bindparam("p"))
RECENT = (
    select(a)
    .where(a.c.service.in_(SERVICES), a.c.last_seen_at >= bindparam("p_since"))
    .order_by(a.c.last_seen_at.desc(), a.c.id)
)  # the caller gives the limit
GATHERABLE = RECENT.where(
    a.c.status != AlertStatus.RESOLVED.value,
    a.c.incident_id.is_(None),
    a.c.triage_state != "pending",
)  # the caller gives the limit
# Driven from the few open incidents (newest first): one on these services, or holding an
# alert on them (each probe one seek in ix_alerts_incident_service_seen). However long ago
# it was opened, an open incident is where a new alert on its services belongs.
OPEN_INCIDENT_FOR = (
    select(i.c.id)
    .where(
        i.c.status.in_(OPEN_INCIDENT),
        or_(
            i.c.service.in_(SERVICES),
            exists().where(a.c.incident_id == i.c.id, a.c.service.in_(SERVICES)),
        ),
    )
    .order_by(i.c.detected_at.desc())
    .limit(1)
)
# The same, for the groups of a whole triage pass at once: each open incident once per
# service of the list it is on or holds an alert on; the caller picks the newest per group.
# The services an incident holds alerts on are walked in ix_alerts_incident_service_seen
# one distinct service at a time (a loose index scan: a seek per service, not a read of
# each alert), so the cost follows the open incidents and their services, not the alerts.
OPEN_INCIDENTS_FOR = (
    text(
        """
WITH RECURSIVE held(incident_id, service) AS (
    SELECT i.id, (SELECT min(a.service) FROM alerts a WHERE a.incident_id = i.id)
    FROM incidents i WHERE i.status IN :p_open
  UNION ALL
    SELECT h.incident_id, (
        SELECT min(a.service) FROM alerts a
        WHERE a.incident_id = h.incident_id AND a.service > h.service
    )
    FROM held h WHERE h.service IS NOT NULL
)
SELECT i.id, h.service, i.detected_at FROM held h JOIN incidents i ON i.id = h.incident_id
WHERE h.service IN :p_services
UNION
SELECT i.id, i.service, i.detected_at FROM incidents i
WHERE i.status IN :p_open AND i.service IN :p_services
"""
    )
    .bindparams(
        bindparam("p_services", expanding=True),
        bindparam("p_open", OPEN_INCIDENT, expanding=True),
    )
    .columns(i.c.id, a.c.service, i.c.detected_at)
)
# An attach's new triage state: ``p_state`` when given, else the one the alert has.
STATE_IF_GIVEN = func.coalesce(bindparam("p_state", type_=a.c.triage_state.type), a.c.triage_state)
ATTACH_ONE = (
    update(a)
    .where(a.c.id == bindparam("p_id"))
    .values(incident_id=bindparam("p_incident"), triage_state=STATE_IF_GIVEN)
)
COUNT_FOR_INCIDENTS = (
    select(a.c.incident_id, func.count()).where(a.c.incident_id.in_(IDS)).group_by(a.c.incident_id)
)
GET = select(a).where(a.c.id == bindparam("p"))
