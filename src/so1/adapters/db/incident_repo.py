"""Repositories for incidents, their timeline and severity history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from so1.adapters.db import tables as t
from so1.domain.incidents import (
    Incident,
    IncidentStatus,
    SeverityChange,
    TimelineEvent,
    format_incident_id,
)
from so1.domain.participants import Participation, Role
from so1.domain.severity import Severity
from so1.errors import Conflict
from so1.ports import IncidentFilter

_INCIDENT_FIELDS = [c.name for c in t.incidents.columns]


def _incident_from_row(row: RowMapping) -> Incident:
    values: dict[str, Any] = dict(row)
    values["status"] = IncidentStatus(values["status"])
    values["severity"] = Severity(values["severity"])
    return Incident(**values)


def _incident_to_row(incident: Incident) -> dict[str, Any]:
    row = {name: getattr(incident, name) for name in _INCIDENT_FIELDS}
    row["status"] = incident.status.value
    row["severity"] = incident.severity.value
    return row


# Built once: the triage worker reads an incident and adds timeline events per batch.
_GET = select(t.incidents).where(t.incidents.c.id == bindparam("p"))
_GET_FOR_UPDATE = _GET.with_for_update()  # SQLite ignores it; its writes are serialised
_GET_MANY = select(t.incidents).where(t.incidents.c.id.in_(bindparam("p_ids", expanding=True)))
# Ordered by id, so two transactions locking some of the same rows take them in one order.
_GET_MANY_FOR_UPDATE = _GET_MANY.order_by(t.incidents.c.id).with_for_update()
_ADD_EVENT = insert(t.timeline_events)


class SqlIncidentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def next_id(self, day: date) -> str:
        """Atomic per-day counter: the upsert takes a row lock (PostgreSQL) or rides the
        IMMEDIATE write lock (SQLite), so concurrent writers get distinct, gapless numbers."""
        dialect_insert = (
            postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        )
        counters = t.incident_day_counters
        stmt = (
            dialect_insert(counters)
            .values(day=day, last_sequence=1)
            .on_conflict_do_update(
                index_elements=[counters.c.day],
                set_={"last_sequence": counters.c.last_sequence + 1},
            )
            .returning(counters.c.last_sequence)
        )
        sequence = self._conn.execute(stmt).scalar_one()
        return format_incident_id(day, sequence)

    def add(self, incident: Incident) -> None:
        self._conn.execute(insert(t.incidents).values(_incident_to_row(incident)))

    def get(self, incident_id: str, for_update: bool = False) -> Incident | None:
        query = _GET_FOR_UPDATE if for_update else _GET
        row = self._conn.execute(query, {"p": incident_id}).mappings().first()
        return _incident_from_row(row) if row else None

    def get_many(self, incident_ids: Sequence[str], for_update: bool = False) -> list[Incident]:
        if not incident_ids:
            return []
        query = _GET_MANY_FOR_UPDATE if for_update else _GET_MANY
        rows = self._conn.execute(query, {"p_ids": list(incident_ids)}).mappings()
        return [_incident_from_row(r) for r in rows]

    def update(self, incident: Incident, expected_version: int) -> None:
        row = _incident_to_row(incident)
        del row["id"]
        row["version"] = expected_version + 1
        result = self._conn.execute(
            update(t.incidents)
            .where(t.incidents.c.id == incident.id, t.incidents.c.version == expected_version)
            .values(row)
        )
        if result.rowcount != 1:
            raise Conflict(f"incident {incident.id} was changed by someone else; reload and retry")

    def search(self, flt: IncidentFilter) -> tuple[list[Incident], int]:
        conditions: list[ColumnElement[bool]] = []
        if flt.status:
            conditions.append(t.incidents.c.status.in_(list(flt.status)))
        if flt.severity:
            conditions.append(t.incidents.c.severity.in_(list(flt.severity)))
        if flt.service:
            conditions.append(t.incidents.c.service == flt.service)
        if not flt.include_private:
            conditions.append(t.incidents.c.private.is_(False))
        total = self._conn.execute(
            select(func.count()).select_from(t.incidents).where(*conditions)
        ).scalar_one()
        rows = self._conn.execute(
            select(t.incidents)
            .where(*conditions)
            .order_by(t.incidents.c.detected_at.desc(), t.incidents.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        ).mappings()
        return [_incident_from_row(r) for r in rows], total

    def add_severity_change(self, change: SeverityChange) -> None:
        self._conn.execute(
            insert(t.severity_changes).values(
                incident_id=change.incident_id,
                from_severity=change.from_severity.value if change.from_severity else None,
                to_severity=change.to_severity.value,
                actor=change.actor,
                reason=change.reason,
                changed_at=change.changed_at,
            )
        )

    def severity_changes(self, incident_id: str) -> list[SeverityChange]:
        rows = self._conn.execute(
            select(t.severity_changes)
            .where(t.severity_changes.c.incident_id == incident_id)
            .order_by(t.severity_changes.c.changed_at, t.severity_changes.c.id)
        ).mappings()
        return [
            SeverityChange(
                incident_id=r["incident_id"],
                from_severity=Severity(r["from_severity"]) if r["from_severity"] else None,
                to_severity=Severity(r["to_severity"]),
                actor=r["actor"],
                reason=r["reason"],
                changed_at=r["changed_at"],
            )
            for r in rows
        ]


def _event_row(event: TimelineEvent) -> dict[str, Any]:
    return {
        "incident_id": event.incident_id,
        "occurred_at": event.occurred_at,
        "kind": event.kind,
        "actor": event.actor,
        "summary": event.summary,
        "data": event.data,
    }


class SqlTimelineRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, event: TimelineEvent) -> None:
        self._conn.execute(_ADD_EVENT, _event_row(event))

    def add_many(self, events: Sequence[TimelineEvent]) -> None:
        if events:  # executemany: one pipelined round trip
            self._conn.execute(_ADD_EVENT, [_event_row(e) for e in events])

    def for_incident(
        self, incident_id: str, kinds: Sequence[str] | None = None
    ) -> list[TimelineEvent]:
        e = t.timeline_events
        query = select(e).where(e.c.incident_id == incident_id)
        if kinds is not None:
            query = query.where(e.c.kind.in_(list(kinds)))
        rows = self._conn.execute(query.order_by(e.c.occurred_at, e.c.id)).mappings()
        return [TimelineEvent(**dict(r)) for r in rows]

    def latest(self, incident_ids: Sequence[str], kind: str) -> dict[str, TimelineEvent]:
        if not incident_ids:
            return {}
        params = {"p_ids": list(incident_ids), "p_kind": kind}
        rows = self._conn.execute(_LATEST_OF_KIND, params).mappings()
        return {r["incident_id"]: TimelineEvent(**dict(r)) for r in rows}


def _latest_of_kind() -> Select[Any]:
    """Each incident's newest event of a kind (``p_ids``, ``p_kind``), built once: a triage
    pass asks for it, and building the ranked subquery cost more than running it."""
    e = t.timeline_events
    newest_first = (e.c.occurred_at.desc(), e.c.id.desc())
    rank = func.row_number().over(partition_by=e.c.incident_id, order_by=newest_first)
    ranked = (
        select(e, rank.label("rank"))
        .where(
            e.c.incident_id.in_(bindparam("p_ids", expanding=True)),
            e.c.kind == bindparam("p_kind"),
        )
        .subquery()
    )
    return select(*[ranked.c[c.key] for c in e.c]).where(ranked.c.rank == 1)


_LATEST_OF_KIND = _latest_of_kind()


def _participation_from_row(row: RowMapping) -> Participation:
    values = {k: v for k, v in row.items() if k not in ("id", "person_id")}
    return Participation(**{**values, "role": Role(values["role"])})


class SqlParticipantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def assume(self, participation: Participation) -> None:
        self._conn.execute(
            insert(t.participants).values(
                incident_id=participation.incident_id,
                handle=participation.handle,
                role=participation.role.value,
                assumed_at=participation.assumed_at,
                renounced_at=participation.renounced_at,
            )
        )

    def renounce(self, incident_id: str, handle: str, role: Role, at: datetime) -> int:
        p = t.participants
        result = self._conn.execute(
            update(p)
            .where(
                p.c.incident_id == incident_id,
                p.c.handle == handle,
                p.c.role == role.value,
                p.c.renounced_at.is_(None),
            )
            .values(renounced_at=at)
        )
        return int(result.rowcount)

    def current(self, incident_id: str, role: Role | None = None) -> list[Participation]:
        p = t.participants
        query = select(p).where(p.c.incident_id == incident_id, p.c.renounced_at.is_(None))
        if role is not None:
            query = query.where(p.c.role == role.value)
        rows = self._conn.execute(query.order_by(p.c.assumed_at, p.c.id)).mappings()
        return [_participation_from_row(r) for r in rows]

    def history(self, incident_id: str) -> list[Participation]:
        p = t.participants
        rows = self._conn.execute(
            select(p).where(p.c.incident_id == incident_id).order_by(p.c.assumed_at, p.c.id)
        ).mappings()
        return [_participation_from_row(r) for r in rows]
