"""The alert store: one row per open (source, dedup_key), duplicates counted in place, and
the triage work queue (``triage_state``) that survives a crash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from so1.adapters.db import intake_tables as it, tables as t
from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus, SeverityHint
from so1.domain.incidents import IncidentStatus
from so1.ports import AlertFilter

a = it.alerts
_ALERT_FIELDS = list(Alert.__dataclass_fields__)
_OPEN = [s.value for s in AlertStatus if s.is_open]
_CLOSED_INCIDENT = [IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value]


def _alert_from_row(row: RowMapping) -> Alert:
    values: dict[str, Any] = {name: row[name] for name in _ALERT_FIELDS}
    values["source"] = AlertSource(values["source"])
    values["status"] = AlertStatus(values["status"])
    hint = values["severity_hint"]
    values["severity_hint"] = SeverityHint(hint) if hint else None
    return Alert(**values)


def _upsert(dialect_insert: Any, newest: Any) -> Any:
    """Open an alert, or count a duplicate of the open one. Built once per dialect: building
    it per call cost ~2 ms of Python, most of an alert's intake time."""
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


_UPSERT = {
    "sqlite": _upsert(sqlite.insert, func.max),
    "postgresql": _upsert(postgresql.insert, func.greatest),
}


_LAST_RESOLVED = (
    select(a)
    .where(
        a.c.source == bindparam("source"),
        a.c.dedup_key == bindparam("dedup_key"),
        a.c.status == AlertStatus.RESOLVED.value,
    )
    .order_by(a.c.resolved_at.desc())
    .limit(1)
)


class SqlAlertRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def trigger(self, event: AlertEvent, new_id: str, at: datetime, **extra: Any) -> Alert:
        # The sender's time may be old (Alertmanager repeats startsAt on every notification);
        # first_seen keeps it, last_seen is when SO1 last heard of the alert.
        first_seen = min(event.occurred_at or at, at)
        values = {
            "id": new_id,
            "source": event.source.value,
            "dedup_key": event.dedup_key,
            "status": extra.pop("status", AlertStatus.FIRING.value),
            "summary": event.summary,
            "service": event.service,
            "metric": event.metric,
            "current_value": event.current_value,
            "threshold": event.threshold,
            "severity_hint": event.severity_hint.value if event.severity_hint else None,
            "labels": event.labels,
            "details": event.details,
            "is_test": event.is_test,
            "dedup_count": 1,
            "first_seen_at": first_seen,
            "last_seen_at": at,
            "triage_state": "pending",
            **extra,
        }
        stmt = _UPSERT[self._conn.dialect.name]
        return _alert_from_row(self._conn.execute(stmt, values).mappings().one())

    def transition(
        self, source: AlertSource, dedup_key: str, to: AlertStatus, at: datetime
    ) -> Alert | None:
        where = [a.c.source == source.value, a.c.dedup_key == dedup_key, a.c.status.in_(_OPEN)]
        return self._move(where, to, at)

    def set_status(self, alert_id: str, to: AlertStatus, at: datetime) -> Alert | None:
        return self._move([a.c.id == alert_id, a.c.status.in_(_OPEN)], to, at)

    def _move(self, where: list[Any], to: AlertStatus, at: datetime) -> Alert | None:
        changes: dict[str, Any] = {"status": to.value}
        if to is AlertStatus.ACKNOWLEDGED:
            where.append(a.c.status != AlertStatus.SUPPRESSED.value)
            changes["acknowledged_at"] = func.coalesce(a.c.acknowledged_at, at)
        if to is AlertStatus.RESOLVED:
            changes["resolved_at"] = at
        row = (
            self._conn.execute(update(a).where(*where).values(changes).returning(*a.c))
            .mappings()
            .first()
        )
        return _alert_from_row(row) if row else None

    def find(self, source: AlertSource, dedup_key: str) -> Alert | None:
        row = (
            self._conn.execute(
                select(a)
                .where(a.c.source == source.value, a.c.dedup_key == dedup_key)
                .order_by(a.c.status == AlertStatus.RESOLVED.value, a.c.last_seen_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return _alert_from_row(row) if row else None

    def get(self, alert_id: str) -> Alert | None:
        row = self._conn.execute(select(a).where(a.c.id == alert_id)).mappings().first()
        return _alert_from_row(row) if row else None

    def search(self, flt: AlertFilter) -> tuple[list[Alert], int]:
        conditions: list[ColumnElement[bool]] = []
        if flt.status:
            conditions.append(a.c.status.in_(list(flt.status)))
        for column, value in (
            (a.c.source, flt.source),
            (a.c.service, flt.service),
            (a.c.incident_id, flt.incident_id),
        ):
            if value:
                conditions.append(column == value)
        total = self._conn.execute(select(func.count()).select_from(a).where(*conditions))
        rows = self._conn.execute(
            select(a)
            .where(*conditions)
            .order_by(a.c.last_seen_at.desc(), a.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        ).mappings()
        return [_alert_from_row(r) for r in rows], int(total.scalar_one())

    def last_resolved(self, source: AlertSource, dedup_key: str) -> Alert | None:
        params = {"source": source.value, "dedup_key": dedup_key}
        row = self._conn.execute(_LAST_RESOLVED, params).mappings().first()
        return _alert_from_row(row) if row else None

    def set_flaps(self, alert_id: str, flap_count: int) -> None:
        self._conn.execute(update(a).where(a.c.id == alert_id).values(flap_count=flap_count))

    def claim_pending(self, limit: int, now: datetime, stale_before: datetime) -> list[Alert]:
        # Two index range scans (triage_state, first_seen_at): an OR of both conditions made
        # the planner scan the whole table, which with a million stored alerts halved intake.
        ids = self._claimable(a.c.triage_state == "pending", limit)
        if len(ids) < limit:
            stale = (a.c.triage_state == "processing") & (a.c.triage_claimed_at < stale_before)
            ids += self._claimable(stale, limit - len(ids))
        if not ids:
            return []
        rows = self._conn.execute(
            update(a)
            .where(a.c.id.in_(ids))
            .values(triage_state="processing", triage_claimed_at=now)
            .returning(*a.c)
        ).mappings()
        return sorted((_alert_from_row(r) for r in rows), key=lambda x: (x.first_seen_at, x.id))

    def _claimable(self, condition: ColumnElement[bool], limit: int) -> list[str]:
        query = select(a.c.id).where(condition).order_by(a.c.first_seen_at, a.c.id).limit(limit)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self._conn.execute(query).scalars())

    def finish_triage(self, alert_id: str, state: str, run_id: str | None = None) -> None:
        self._conn.execute(
            update(a).where(a.c.id == alert_id).values(triage_state=state, triage_run_id=run_id)
        )

    def finish_many(self, alert_ids: Sequence[str], state: str) -> None:
        if alert_ids:
            self._conn.execute(
                update(a).where(a.c.id.in_(list(alert_ids))).values(triage_state=state)
            )

    def close(self, alert_id: str, at: datetime, reason: str) -> None:
        self._conn.execute(
            update(a)
            .where(a.c.id == alert_id)
            .values(status=AlertStatus.RESOLVED.value, resolved_at=at, closed_reason=reason)
        )

    def attach(self, alert_ids: Sequence[str], incident_id: str) -> None:
        if alert_ids:
            self._conn.execute(
                update(a).where(a.c.id.in_(list(alert_ids))).values(incident_id=incident_id)
            )

    def recent(self, services: Sequence[str], since: datetime) -> list[Alert]:
        rows = self._conn.execute(
            select(a)
            .where(a.c.service.in_(list(services)), a.c.last_seen_at >= since)
            .order_by(a.c.last_seen_at.desc(), a.c.id)
            .limit(500)
        ).mappings()
        return [_alert_from_row(r) for r in rows]

    def open_incident_for(self, services: Sequence[str], since: datetime) -> str | None:
        i = t.incidents
        incident_id: str | None = self._conn.execute(
            select(a.c.incident_id)
            .join(i, i.c.id == a.c.incident_id)
            .where(
                a.c.service.in_(list(services)),
                a.c.last_seen_at >= since,
                i.c.status.not_in(_CLOSED_INCIDENT),
            )
            .order_by(i.c.detected_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        return incident_id

    def first_seen_since(self, since: datetime, limit: int) -> list[Alert]:
        rows = self._conn.execute(
            select(a)
            .where(a.c.first_seen_at >= since)
            .order_by(a.c.first_seen_at, a.c.id)
            .limit(limit)
        ).mappings()
        return [_alert_from_row(r) for r in rows]

    def count_for_incident(self, incident_id: str) -> int:
        count = self._conn.execute(
            select(func.count()).select_from(a).where(a.c.incident_id == incident_id)
        )
        return int(count.scalar_one())

    def triage_state(self, alert_id: str) -> str | None:
        state: str | None = self._conn.execute(
            select(a.c.triage_state).where(a.c.id == alert_id)
        ).scalar_one_or_none()
        return state

    def triage_run_id(self, alert_id: str) -> str | None:
        run_id: str | None = self._conn.execute(
            select(a.c.triage_run_id).where(a.c.id == alert_id)
        ).scalar_one_or_none()
        return run_id
