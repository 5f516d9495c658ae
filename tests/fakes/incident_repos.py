"""Fakes of the incident record's repositories (ports/store.py): incidents with their day
counter and version check, timeline, participants, audit, API keys, agent runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from so1.domain.access import ApiKey, Scope
from so1.domain.incidents import Incident, SeverityChange, TimelineEvent, format_incident_id
from so1.domain.participants import Participation, Role
from so1.domain.records import AgentName, AgentRun, AuditRecord
from so1.errors import Conflict
from so1.ports import IncidentFilter
from tests.fakes.tables import Tables, kept


class FakeIncidentRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def next_id(self, day: date) -> str:
        """Gapless per day; a rolled-back unit of work gives its number back (its copy of
        the counters is dropped), as the counter row does."""
        self._t.day_counters[day] = self._t.day_counters.get(day, 0) + 1
        return format_incident_id(day, self._t.day_counters[day])

    def add(self, incident: Incident) -> None:
        if incident.id in self._t.incidents:
            raise Conflict(f"incident {incident.id} exists")  # the primary key
        self._t.incidents[incident.id] = kept(incident)

    def get(self, incident_id: str, for_update: bool = False) -> Incident | None:
        return kept(self._t.incidents.get(incident_id))

    def get_many(self, incident_ids: Sequence[str], for_update: bool = False) -> list[Incident]:
        return kept([self._t.incidents[i] for i in set(incident_ids) if i in self._t.incidents])

    def update(self, incident: Incident, expected_version: int) -> None:
        stored = self._t.incidents.get(incident.id)
        if stored is None or stored.version != expected_version:
            raise Conflict(f"incident {incident.id} was changed by someone else; reload and retry")
        self._t.incidents[incident.id] = kept(replace(incident, version=expected_version + 1))

    def search(self, flt: IncidentFilter) -> tuple[list[Incident], int]:
        found = [
            i
            for i in self._t.incidents.values()
            if (not flt.status or i.status.value in flt.status)
            and (not flt.severity or i.severity.value in flt.severity)
            and (not flt.service or i.service == flt.service)
            and (flt.include_private or not i.private)
        ]
        found.sort(key=lambda i: (i.detected_at, i.id), reverse=True)
        return kept(found[flt.offset : flt.offset + flt.limit]), len(found)

    def add_severity_change(self, change: SeverityChange) -> None:
        self._t.severity_changes.append(change)

    def severity_changes(self, incident_id: str) -> list[SeverityChange]:
        found = [c for c in self._t.severity_changes if c.incident_id == incident_id]
        return sorted(found, key=lambda c: c.changed_at)  # stable: ties keep insertion order


class FakeTimelineRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, event: TimelineEvent) -> None:
        self._t.timeline.append(kept(replace(event, id=self._t.next_serial("timeline"))))

    def add_many(self, events: Sequence[TimelineEvent]) -> None:
        for event in events:
            self.add(event)

    def for_incident(
        self, incident_id: str, kinds: Sequence[str] | None = None
    ) -> list[TimelineEvent]:
        found = [
            e
            for e in self._t.timeline
            if e.incident_id == incident_id and (kinds is None or e.kind in kinds)
        ]
        return kept(sorted(found, key=lambda e: e.occurred_at))

    def latest(self, incident_ids: Sequence[str], kind: str) -> dict[str, TimelineEvent]:
        found: dict[str, TimelineEvent] = {}
        for event in sorted(self._t.timeline, key=lambda e: (e.occurred_at, e.id or 0)):
            if event.incident_id in incident_ids and event.kind == kind:
                found[event.incident_id] = kept(event)
        return found


class FakeParticipantRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def assume(self, participation: Participation) -> None:
        self._t.participants.append(participation)

    def renounce(self, incident_id: str, handle: str, role: Role, at: datetime) -> int:
        held = [
            (n, p)
            for n, p in enumerate(self._t.participants)
            if (p.incident_id, p.handle, p.role) == (incident_id, handle, role)
            and p.renounced_at is None
        ]
        for n, p in held:
            self._t.participants[n] = replace(p, renounced_at=at)
        return len(held)

    def current(self, incident_id: str, role: Role | None = None) -> list[Participation]:
        return [
            p
            for p in self.history(incident_id)
            if p.renounced_at is None and (role is None or p.role is role)
        ]

    def history(self, incident_id: str) -> list[Participation]:
        found = [p for p in self._t.participants if p.incident_id == incident_id]
        return sorted(found, key=lambda p: p.assumed_at)


class FakeAuditRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, record: AuditRecord) -> None:
        self._t.audit.append(kept(replace(record, id=self._t.next_serial("audit"))))

    def add_many(self, records: Sequence[AuditRecord]) -> None:
        for record in records:
            self.add(record)

    def _shown(self, include_private: bool) -> list[AuditRecord]:
        private = {i.id for i in self._t.incidents.values() if i.private}
        return [r for r in self._t.audit if include_private or r.incident_id not in private]

    def search(
        self,
        limit: int,
        offset: int,
        actor: str | None = None,
        action: str | None = None,
        include_private: bool = True,
    ) -> list[AuditRecord]:
        found = [
            r
            for r in self._shown(include_private)
            if (not actor or r.actor == actor) and (not action or r.action == action)
        ]
        found.sort(key=lambda r: (r.at, r.id or 0), reverse=True)
        return kept(found[offset : offset + limit])

    def between(
        self, start: datetime, end: datetime, limit: int, include_private: bool = True
    ) -> list[AuditRecord]:
        found = [r for r in self._shown(include_private) if start <= r.at <= end]
        return kept(sorted(found, key=lambda r: (r.at, r.id or 0))[:limit])


class FakeKeyRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, key: ApiKey) -> None:
        if key.id in self._t.keys:
            raise Conflict(f"key {key.id} exists")
        self._t.keys[key.id] = key

    def get(self, key_id: str) -> ApiKey | None:
        return self._t.keys.get(key_id)

    def all(self) -> list[ApiKey]:
        return sorted(self._t.keys.values(), key=lambda k: k.created_at)

    def revoke(self, key_id: str, at: datetime) -> None:
        self._set(key_id, revoked_at=at)

    def expire(self, key_id: str, at: datetime) -> None:
        self._set(key_id, expires_at=at)

    def touch(self, key_id: str, at: datetime) -> None:
        self._set(key_id, last_used_at=at)

    def count_usable_admins(self, now: datetime) -> int:
        return sum(
            1
            for k in self._t.keys.values()
            if k.revoked_at is None
            and (k.expires_at is None or k.expires_at > now)
            and Scope.ADMIN in k.scopes
        )

    def lock_for_bootstrap(self) -> None:
        """Nothing to do: one fake unit of work runs at a time."""

    def _set(self, key_id: str, **values: Any) -> None:
        if key_id in self._t.keys:
            self._t.keys[key_id] = replace(self._t.keys[key_id], **values)


class FakeAgentRunRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, run: AgentRun) -> None:
        if run.id in self._t.agent_runs:
            raise Conflict(f"run {run.id} exists")
        self._t.agent_runs[run.id] = kept(run)

    def update(self, run: AgentRun) -> None:
        if run.id in self._t.agent_runs:  # an UPDATE of no row changes nothing
            self._t.agent_runs[run.id] = kept(run)

    def get(self, run_id: str) -> AgentRun | None:
        return kept(self._t.agent_runs.get(run_id))

    def last_triaged(
        self, incident_ids: Sequence[str], since: datetime
    ) -> dict[tuple[str, str, str], datetime]:
        last: dict[tuple[str, str, str], datetime] = {}
        for run in self._t.agent_runs.values():
            if run.agent != AgentName.TRIAGE or run.incident_id is None:
                continue
            if run.incident_id not in incident_ids:
                continue
            if run.started_at < since:
                continue
            alert = run.inputs.get("alert") or {}
            signal = (run.incident_id, alert.get("service") or "", alert.get("metric") or "")
            last[signal] = max(run.started_at, last.get(signal, run.started_at))
        return last
