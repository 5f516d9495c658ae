"""Repositories for API keys, the audit log and agent runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    RowMapping,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)

from so1.adapters.db import tables as t
from so1.domain.access import ApiKey, Scope
from so1.domain.records import AgentName, AgentRun, AuditRecord, Outcome, RunStatus

_BOOTSTRAP_LOCK = 0x50_31_4B_45  # any fixed number, distinct from the migration lock


def _key_from_row(row: RowMapping) -> ApiKey:
    values: dict[str, Any] = dict(row)
    values["scopes"] = frozenset(Scope(s) for s in values["scopes"])
    return ApiKey(**values)


class SqlKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, key: ApiKey) -> None:
        values = {c.name: getattr(key, c.name) for c in t.api_keys.columns}
        values["scopes"] = sorted(s.value for s in key.scopes)
        self._conn.execute(insert(t.api_keys).values(values))

    def get(self, key_id: str) -> ApiKey | None:
        row = self._conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).mappings()
        first = row.first()
        return _key_from_row(first) if first else None

    def all(self) -> list[ApiKey]:
        rows = self._conn.execute(select(t.api_keys).order_by(t.api_keys.c.created_at)).mappings()
        return [_key_from_row(r) for r in rows]

    def revoke(self, key_id: str, at: datetime) -> None:
        self._set(key_id, revoked_at=at)

    def expire(self, key_id: str, at: datetime) -> None:
        self._set(key_id, expires_at=at)

    def touch(self, key_id: str, at: datetime) -> None:
        self._set(key_id, last_used_at=at)

    def count_usable_admins(self, now: datetime) -> int:
        k = t.api_keys
        rows = self._conn.execute(
            select(k.c.scopes).where(
                k.c.revoked_at.is_(None), or_(k.c.expires_at.is_(None), k.c.expires_at > now)
            )
        ).scalars()
        return sum(1 for scopes in rows if Scope.ADMIN.value in scopes)

    def lock_for_bootstrap(self) -> None:
        # SQLite write transactions are already exclusive (BEGIN IMMEDIATE).
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _BOOTSTRAP_LOCK})

    def _set(self, key_id: str, **values: Any) -> None:
        self._conn.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(**values))


def _not_private() -> ColumnElement[bool]:
    """Audit rows that concern no security incident."""
    private = select(t.incidents.c.id).where(t.incidents.c.private.is_(True))
    a = t.audit_log
    return or_(a.c.incident_id.is_(None), a.c.incident_id.not_in(private))


def _audit_row(record: AuditRecord) -> dict[str, Any]:
    values = {c.name: getattr(record, c.name) for c in t.audit_log.columns if c.name != "id"}
    values["outcome"] = record.outcome.value
    return values


class SqlAuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: AuditRecord) -> None:
        self._conn.execute(insert(t.audit_log).values(_audit_row(record)))

    def add_many(self, records: Sequence[AuditRecord]) -> None:
        if records:  # executemany: one pipelined round trip
            self._conn.execute(insert(t.audit_log), [_audit_row(r) for r in records])

    def search(
        self,
        limit: int,
        offset: int,
        actor: str | None = None,
        action: str | None = None,
        include_private: bool = True,
    ) -> list[AuditRecord]:
        a = t.audit_log
        query = select(a) if include_private else select(a).where(_not_private())
        if actor:
            query = query.where(a.c.actor == actor)
        if action:
            query = query.where(a.c.action == action)
        rows = self._conn.execute(
            query.order_by(a.c.at.desc(), a.c.id.desc()).limit(limit).offset(offset)
        ).mappings()
        return [AuditRecord(**{**dict(r), "outcome": Outcome(r["outcome"])}) for r in rows]

    def between(
        self, start: datetime, end: datetime, limit: int, include_private: bool = True
    ) -> list[AuditRecord]:
        """Oldest first, ``start`` <= at <= ``end``."""
        a = t.audit_log
        query = select(a).where(a.c.at >= start, a.c.at <= end)
        if not include_private:
            query = query.where(_not_private())
        rows = self._conn.execute(query.order_by(a.c.at, a.c.id).limit(limit)).mappings()
        return [AuditRecord(**{**dict(r), "outcome": Outcome(r["outcome"])}) for r in rows]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.audit_log)).scalar_one())


_RUNS = t.agent_runs
_SIGNAL = (
    type_coerce(_RUNS.c.inputs, JSON)[("alert", "service")].as_string(),
    type_coerce(_RUNS.c.inputs, JSON)[("alert", "metric")].as_string(),
)
# A few runs a minute per incident (one per signal): read by ix_agent_runs_incident.
_LAST_TRIAGED = select(_RUNS.c.incident_id, *_SIGNAL, _RUNS.c.started_at).where(
    _RUNS.c.incident_id.in_(bindparam("p_ids", expanding=True)),
    _RUNS.c.agent == bindparam("p_agent"),
    _RUNS.c.started_at >= bindparam("p_since"),
)


class SqlAgentRunRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, run: AgentRun) -> None:
        self._conn.execute(insert(t.agent_runs).values(self._values(run)))

    def update(self, run: AgentRun) -> None:
        self._conn.execute(
            update(t.agent_runs).where(t.agent_runs.c.id == run.id).values(self._values(run))
        )

    def get(self, run_id: str) -> AgentRun | None:
        row = self._conn.execute(select(t.agent_runs).where(t.agent_runs.c.id == run_id))
        first = row.mappings().first()
        if first is None:
            return None
        return AgentRun(**{**dict(first), "status": RunStatus(first["status"])})

    def last_triaged(
        self, incident_ids: Sequence[str], since: datetime
    ) -> dict[tuple[str, str, str], datetime]:
        if not incident_ids:
            return {}
        params = {"p_ids": list(incident_ids), "p_since": since, "p_agent": AgentName.TRIAGE}
        last: dict[tuple[str, str, str], datetime] = {}
        for incident_id, service, metric, at in self._conn.execute(_LAST_TRIAGED, params):
            signal = (str(incident_id), service or "", metric or "")
            last[signal] = max(at, last.get(signal, at))
        return last

    @staticmethod
    def _values(run: AgentRun) -> dict[str, Any]:
        values = {c.name: getattr(run, c.name) for c in t.agent_runs.columns}
        values["status"] = run.status.value
        return values
