"""The alert store: one row per open (source, dedup_key), duplicates counted in place, and
the triage work queue (``triage_state``) that survives a crash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, text, tuple_, update
from sqlalchemy.sql import Select

from so1.adapters.db import (
    alert_sql as sql,
    alert_weeks,
    intake_tables as it,
    open_keys,
    partitions,
    tables as t,
)
from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus, SeverityHint
from so1.ports import AlertFilter, Backlog
from so1.ports.intake import OpenIncidentOn, Trigger

a = it.alerts
_ALERT_FIELDS = list(Alert.__dataclass_fields__)
_OPEN = [s.value for s in AlertStatus if s.is_open]


def _alert_from_row(row: Mapping[Any, Any]) -> Alert:
    values: dict[str, Any] = {name: row[name] for name in _ALERT_FIELDS}
    values["source"] = AlertSource(values["source"])
    values["status"] = AlertStatus(values["status"])
    hint = values["severity_hint"]
    values["severity_hint"] = SeverityHint(hint) if hint else None
    return Alert(**values)


def _oldest_first(rows: Sequence[Mapping[Any, Any]]) -> list[Alert]:
    return sorted((_alert_from_row(r) for r in rows), key=lambda x: (x.first_seen_at, x.id))


def _trigger_row(
    event: AlertEvent, new_id: str, integration_id: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "id": new_id,
        "source": event.source.value,
        "dedup_key": event.dedup_key,
        "status": AlertStatus.FIRING.value,
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
        "integration_id": integration_id,
        "first_seen_at": min(event.occurred_at or at, at),
        "last_seen_at": at,
        "triage_state": "pending",
        "stored_at": at,
    }


def _one(row: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if row is None:
        raise RuntimeError("the alert upsert returned no row")
    return row


# An upsert that returned no row (none should: on PostgreSQL a duplicate's count runs in a
# snapshot taken after its key was read) runs again, in a new snapshot, before failing.
UPSERT_TRIES = 3


class SqlAlertRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # PostgreSQL: the weeks of the alerts read so far, for statements by primary key
        self._weeks = alert_weeks.KnownWeeks() if partitions.is_partitioned(conn) else None

    def trigger(self, event: AlertEvent, new_id: str, at: datetime, **extra: Any) -> Alert:
        return self.trigger_many([(event, new_id, extra.get("integration_id"))], at)[0]

    def trigger_many(self, triggers: Sequence[Trigger], at: datetime) -> list[Alert]:
        # The sender's time may be old (Alertmanager repeats startsAt on every notification);
        # first_seen keeps it, last_seen is when SO1 last heard of the alert.
        rows = [
            _trigger_row(event, new_id, integration_id, at)
            for event, new_id, integration_id in triggers
        ]
        stored = self._upsert(rows)
        for _ in range(UPSERT_TRIES - 1):
            missed = [n for n, row in enumerate(stored) if row is None]
            if not missed:
                break
            again = self._upsert([rows[n] for n in missed])
            for n, row in zip(missed, again, strict=True):
                stored[n] = row
        return [_alert_from_row(_one(row)) for row in stored]

    def _upsert(self, rows: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        if partitions.is_partitioned(self._conn):
            return open_keys.open_or_count(self._conn, rows, sql.TRIGGER_COLUMNS)
        upsert = sql.driver_upsert(self._conn.dialect)
        return upsert.returning_by_key(self._conn, rows, open_keys.IDENTITY)

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
        if row and to is AlertStatus.RESOLVED:
            open_keys.resolved(self._conn, row)
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
        row = self._conn.execute(sql.GET, {"p": alert_id}).mappings().first()
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
        if flt.seen_since is not None:
            conditions.append(a.c.last_seen_at >= flt.seen_since)
        if not flt.include_private:
            private = select(t.incidents.c.id).where(t.incidents.c.private.is_(True))
            conditions.append(or_(a.c.incident_id.is_(None), a.c.incident_id.not_in(private)))
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
        return self.last_resolved_many([(source, dedup_key)])[0]

    def last_resolved_many(
        self, identities: Sequence[tuple[AlertSource, str]]
    ) -> list[Alert | None]:
        rows = [{"source": source.value, "dedup_key": key} for source, key in identities]
        if partitions.is_partitioned(self._conn):
            found = open_keys.last_resolved(self._conn, rows)
        else:
            found = sql.driver_last_resolved(self._conn.dialect).returning_each(self._conn, rows)
        return [_alert_from_row(row) if row else None for row in found]

    def set_flaps(self, alert_id: str, flap_count: int) -> None:
        self._conn.execute(update(a).where(a.c.id == alert_id).values(flap_count=flap_count))

    def claim_pending(
        self, limit: int, now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        ids = self._claimable(False, {"p_limit": limit})
        if len(ids) < limit and stale_before is not None:
            ids += self._claimable(True, {"p_limit": limit - len(ids), "p_stale": stale_before})
        if not ids:
            return []
        return self._claimed(self._conn.execute(sql.CLAIM, {"p_ids": ids, "p_now": now}))

    def _claimable(self, stale: bool, params: dict[str, Any]) -> list[str]:
        query = sql.CLAIMABLE[stale, self._conn.dialect.name]
        return list(self._conn.execute(query, params).scalars())

    def waiting(self, limit: int, stale_before: datetime | None) -> list[tuple[str, str | None]]:
        rows = list(self._conn.execute(sql.WAITING[False], {"p_limit": limit}).mappings())
        if len(rows) < limit and stale_before is not None:
            params = {"p_limit": limit - len(rows), "p_stale": stale_before}
            rows += self._conn.execute(sql.WAITING[True], params).mappings()
        if self._weeks is not None:
            self._weeks.learn(rows)
        return [(str(row["id"]), row["service"]) for row in rows]

    def claim_among(
        self, alert_ids: Sequence[str], now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        if (keys := self._keys(alert_ids)) is not None:
            return self._claim_by_key(keys, now, stale_before)
        params: dict[str, Any] = {"p_ids": list(alert_ids), "p_limit": len(alert_ids)}
        dialect = self._conn.dialect.name
        ids = list(self._conn.execute(sql.CLAIMABLE_AMONG[False, dialect], params).scalars())
        if stale_before is not None and len(ids) < len(alert_ids):
            stale = sql.CLAIMABLE_AMONG[True, dialect]
            ids += self._conn.execute(stale, {**params, "p_stale": stale_before}).scalars()
        if not ids:
            return []
        return self._claimed(self._conn.execute(sql.CLAIM, {"p_ids": ids, "p_now": now}))

    def _claim_by_key(
        self, keys: alert_weeks.Keys, now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        """``claim_among`` on PostgreSQL, each alert by its primary key (alert_weeks.py)."""
        ids = set(alert_weeks.claimable(self._conn, keys))
        if stale_before is not None and len(ids) < len(keys["p_ids"]):
            rest = alert_weeks.only(keys, set(keys["p_ids"]) - ids)
            ids.update(alert_weeks.claimable(self._conn, rest, stale_before))
        if not ids:
            return []
        return _oldest_first(alert_weeks.claim(self._conn, alert_weeks.only(keys, ids), now))

    def _keys(self, alert_ids: Sequence[str]) -> alert_weeks.Keys | None:
        return self._weeks.keys(alert_ids) if self._weeks is not None else None

    def _claimed(self, result: Any) -> list[Alert]:
        """The claimed rows as alerts, oldest first; their weeks are now known."""
        rows = list(result.mappings())
        if self._weeks is not None:
            self._weeks.learn(rows)
        return _oldest_first(rows)

    def finish_triage(self, alert_id: str, state: str, run_id: str | None = None) -> None:
        self._conn.execute(sql.FINISH, {"p_id": alert_id, "p_state": state, "p_run": run_id})

    def finish_many(self, alert_ids: Sequence[str], state: str) -> None:
        if alert_ids and (keys := self._keys(alert_ids)) is not None:
            alert_weeks.finish(self._conn, keys, state)
        elif alert_ids:
            self._conn.execute(sql.FINISH_MANY, {"p_ids": list(alert_ids), "p_state": state})

    def close(self, alert_id: str, at: datetime, reason: str) -> None:
        closed = self._conn.execute(
            update(a)
            .where(a.c.id == alert_id)
            .values(status=AlertStatus.RESOLVED.value, resolved_at=at, closed_reason=reason)
            .returning(a.c.id, a.c.source, a.c.dedup_key, a.c.stored_at, a.c.resolved_at)
        ).first()
        if closed:
            open_keys.resolved(self._conn, closed._mapping)

    def prune_expired(self, before: datetime, limit: int) -> int:
        """Remove up to ``limit`` expired alerts row by row (partitions.EXPIRED_ALERT):
        every table on SQLite; on PostgreSQL the default partition (weeks go whole)."""
        table = "alerts_default" if partitions.is_partitioned(self._conn) else "alerts"
        query = text(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
            f" WHERE {partitions.EXPIRED_ALERT} LIMIT :limit)"
        )
        removed = self._conn.execute(query, {"cutoff": before, "limit": limit}).rowcount
        if partitions.is_partitioned(self._conn):
            r = it.alert_last_resolved
            old = select(r.c.source, r.c.dedup_key).where(r.c.resolved_at < before).limit(limit)
            self._conn.execute(delete(r).where(tuple_(r.c.source, r.c.dedup_key).in_(old)))
        return int(removed)

    def attach(self, alert_ids: Sequence[str], incident_id: str) -> None:
        if alert_ids and (keys := self._keys(alert_ids)) is not None:
            alert_weeks.attach(self._conn, keys, [incident_id] * len(alert_ids))
        elif alert_ids:
            self._conn.execute(sql.ATTACH, {"p_ids": list(alert_ids), "p_incident": incident_id})

    def attach_many(self, pairs: Sequence[tuple[str, str]], finished_as: str | None = None) -> None:
        """One write of each row: a second UPDATE of the same alerts (its triage state)
        would write every row and its indexes again."""
        incidents = [incident for _, incident in pairs]
        if pairs and (keys := self._keys([alert_id for alert_id, _ in pairs])) is not None:
            alert_weeks.attach(self._conn, keys, incidents, finished_as)
        elif pairs:  # executemany: one pipelined round trip
            rows = [
                {"p_id": alert_id, "p_incident": incident, "p_state": finished_as}
                for alert_id, incident in pairs
            ]
            self._conn.execute(sql.ATTACH_ONE, rows)

    def recent(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        return self._read_seen(sql.RECENT, services, since, limit)

    def gatherable(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        return self._read_seen(sql.GATHERABLE, services, since, limit)

    def _read_seen(
        self, query: Select[Any], services: Sequence[str], since: datetime, limit: int
    ) -> list[Alert]:
        params = {"p_services": list(services), "p_since": since}
        rows = list(self._conn.execute(query.limit(limit), params).mappings())
        if self._weeks is not None:  # the caller may attach them: by primary key, then
            self._weeks.learn(rows)
        return [_alert_from_row(r) for r in rows]

    def open_incident_for(self, services: Sequence[str]) -> str | None:
        params = {"p_services": list(services)}
        found: str | None = self._conn.execute(sql.OPEN_INCIDENT_FOR, params).scalar_one_or_none()
        return found

    def open_incidents_for(self, services: Sequence[str]) -> list[OpenIncidentOn]:
        if not services:
            return []
        rows = self._conn.execute(sql.OPEN_INCIDENTS_FOR, {"p_services": list(services)})
        return [OpenIncidentOn(str(id_), str(service), at) for id_, service, at in rows]

    def first_seen_since(self, since: datetime, limit: int) -> list[Alert]:
        rows = self._conn.execute(
            select(a)
            .where(a.c.first_seen_at >= since)
            .order_by(a.c.first_seen_at, a.c.id)
            .limit(limit)
        ).mappings()
        return [_alert_from_row(r) for r in rows]

    def count_for_incident(self, incident_id: str) -> int:
        return int(self._conn.execute(sql.COUNT_FOR_INCIDENT, {"p": incident_id}).scalar_one())

    def count_for_incidents(self, incident_ids: Sequence[str]) -> dict[str, int]:
        if not incident_ids:
            return {}
        rows = self._conn.execute(sql.COUNT_FOR_INCIDENTS, {"p_ids": list(incident_ids)})
        return {str(incident_id): int(count) for incident_id, count in rows}

    def count_by_service(self, incident_id: str) -> dict[str, int]:
        rows = self._conn.execute(
            select(a.c.service, func.count())
            .where(a.c.incident_id == incident_id, a.c.service.is_not(None))
            .group_by(a.c.service)
        )
        return {str(service): int(count) for service, count in rows}

    def first_acknowledged(self, incident_id: str) -> Alert | None:
        row = (
            self._conn.execute(
                select(a)
                .where(a.c.incident_id == incident_id, a.c.acknowledged_at.is_not(None))
                .order_by(a.c.acknowledged_at)
                .limit(1)
            )
            .mappings()
            .first()
        )
        return _alert_from_row(row) if row else None

    def triage_state(self, alert_id: str) -> str | None:
        state: str | None = self._conn.execute(
            select(a.c.triage_state).where(a.c.id == alert_id)
        ).scalar_one_or_none()
        return state

    def triage_backlog(self) -> Backlog:
        waiting = a.c.triage_state.in_(("pending", "processing"))
        row = self._conn.execute(
            select(func.count(), func.min(a.c.first_seen_at)).where(waiting)
        ).one()
        return Backlog(int(row[0]), row[1])

    def triage_run_id(self, alert_id: str) -> str | None:
        run_id: str | None = self._conn.execute(
            select(a.c.triage_run_id).where(a.c.id == alert_id)
        ).scalar_one_or_none()
        return run_id
