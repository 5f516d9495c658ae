"""Fakes of the outbox (ports/comms.py) and the on-call record (ports/oncall.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from so1.domain.access import Role
from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.domain.oncall import EscalationPolicy, Person, Schedule, Team, Window
from so1.errors import NotFound
from so1.ports import Backlog
from tests.fakes.tables import Tables, kept


class FakeOutboxRepository:
    """Ids in insertion order; drafts change only while they are drafts; an alarm is claimed
    once (the primary key of runbook_alarms)."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, message: Outbound) -> Outbound:
        stored = replace(message, id=self._t.next_serial("outbox"))
        self._t.outbox.append(kept(stored))
        return stored

    def _due(self, now: datetime) -> list[Outbound]:
        return [
            m
            for m in self._t.outbox
            if m.status is DeliveryStatus.PENDING
            and (m.next_attempt_at is None or m.next_attempt_at <= now)
        ]

    def any_due(self, now: datetime) -> bool:
        return bool(self._due(now))

    def due_backlog(self, now: datetime) -> Backlog:
        due = self._due(now)
        return Backlog(len(due), min((m.created_at for m in due), default=None))

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Outbound]:
        due = sorted(self._due(now), key=lambda m: (m.created_at, m.id or 0))[:limit]
        claimed = [replace(m, next_attempt_at=lease_until, attempts=m.attempts + 1) for m in due]
        for message in claimed:
            self._put(message)
        return kept(claimed)

    def mark_sent(self, message_id: int, at: datetime, payload: dict[str, Any]) -> None:
        message = self._get(message_id)
        self._put(
            replace(
                message, status=DeliveryStatus.SENT, sent_at=at, last_error=None, payload=payload
            )
        )
        if payload.get("ref"):
            self._t.vendor_refs[message_id] = str(payload["ref"])[:200]

    def update_draft(
        self, message_id: int, body: str, payload: dict[str, Any], publish: bool
    ) -> bool:
        message = self._get(message_id)
        if message.status is not DeliveryStatus.DRAFT:
            return False
        status = DeliveryStatus.PENDING if publish else DeliveryStatus.DRAFT
        self._put(replace(message, body=body, payload=payload, status=status, next_attempt_at=None))
        return True

    def by_vendor_ref(self, ref: str) -> Outbound | None:
        found = next((i for i, r in self._t.vendor_refs.items() if r == ref), None)
        return kept(self._get(found)) if found is not None else None

    def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None:
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.DEAD
        message = self._get(message_id)
        self._put(
            replace(message, status=status, last_error=error[:2000], next_attempt_at=retry_at)
        )

    def for_incident(
        self, incident_id: str, destination: Destination | None = None
    ) -> list[Outbound]:
        found = [
            m
            for m in self._t.outbox
            if m.incident_id == incident_id and destination in (None, m.destination)
        ]
        return kept(sorted(found, key=lambda m: (m.created_at, m.id or 0)))

    def sent_to(self, destination: Destination, since: datetime) -> list[Outbound]:
        found = [
            m
            for m in self._t.outbox
            if m.destination is destination
            and m.status is DeliveryStatus.SENT
            and m.sent_at is not None
            and m.sent_at >= since
        ]
        return kept(sorted(found, key=lambda m: (m.sent_at or since, m.id or 0)))

    def claim_alarm(self, incident_id: str, check_id: str, occurrence: int, at: datetime) -> bool:
        alarm = (incident_id, check_id, occurrence)
        if alarm in self._t.alarms:
            return False
        self._t.alarms.add(alarm)
        return True

    def _get(self, message_id: int) -> Outbound:
        found = next((m for m in self._t.outbox if m.id == message_id), None)
        if found is None:
            raise NotFound(f"message {message_id} does not exist")
        return found

    def _put(self, message: Outbound) -> None:
        self._t.outbox = [message if m.id == message.id else m for m in self._t.outbox]


class FakeOnCallRepository:
    """Upserting a person keeps their account (role, disabled) as the import does."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def upsert_team(self, team: Team, at: datetime) -> bool:
        new = team.name not in self._t.teams
        self._t.teams[team.name] = team
        return new

    def team(self, name: str) -> Team | None:
        return self._t.teams.get(name)

    def teams(self, names: list[str] | None = None) -> list[Team]:
        return [t for n, t in sorted(self._t.teams.items()) if names is None or n in names]

    def upsert_person(self, person: Person, at: datetime) -> bool:
        if person.team is not None and person.team not in self._t.teams:
            raise NotFound(f"team {person.team} does not exist")  # the foreign key
        known = self._t.people.get(person.handle)
        if known is not None:
            slack_id = person.slack_id or known.slack_id
            person = replace(
                person, role=known.role, disabled_at=known.disabled_at, slack_id=slack_id
            )
        self._t.people[person.handle] = person
        return known is None

    def person(self, handle: str) -> Person | None:
        return self._t.people.get(handle)

    def people(self, handles: list[str] | None = None) -> list[Person]:
        return [p for h, p in sorted(self._t.people.items()) if handles is None or h in handles]

    def set_account(self, handle: str, role: Role | None, disabled_at: datetime | None) -> None:
        if handle in self._t.people:
            person = self._t.people[handle]
            self._t.people[handle] = replace(person, role=role, disabled_at=disabled_at)

    def set_slack_id(self, handle: str, slack_id: str | None) -> None:
        if handle in self._t.people:
            self._t.people[handle] = replace(self._t.people[handle], slack_id=slack_id)

    def upsert_schedule(self, schedule: Schedule, at: datetime) -> bool:
        new = schedule.name not in self._t.schedules
        self._t.schedules[schedule.name] = replace(schedule, overrides=())
        return new

    def schedules(
        self, overrides_after: datetime, names: list[str] | None = None
    ) -> list[Schedule]:
        return [
            replace(s, overrides=self._overrides(s.name, overrides_after))
            for n, s in sorted(self._t.schedules.items())
            if names is None or n in names
        ]

    def _overrides(self, schedule: str, after: datetime) -> tuple[Window, ...]:
        found = [w for s, w in self._t.overrides if s == schedule and w.ends_at > after]
        return tuple(sorted(found, key=lambda w: (w.starts_at, w.id or 0)))

    def add_override(self, schedule: str, window: Window, at: datetime) -> Window:
        stored = replace(window, id=self._t.next_serial("overrides"))
        self._t.overrides.append((schedule, stored))
        return stored

    def remove_override(self, schedule: str, override_id: int) -> bool:
        before = len(self._t.overrides)
        self._t.overrides = [
            (s, w) for s, w in self._t.overrides if (s, w.id) != (schedule, override_id)
        ]
        return len(self._t.overrides) < before

    def add_time_off(self, window: Window, at: datetime) -> Window:
        stored = replace(window, id=self._t.next_serial("time_off"))
        self._t.time_off.append(stored)
        return stored

    def remove_time_off(self, time_off_id: int) -> bool:
        before = len(self._t.time_off)
        self._t.time_off = [w for w in self._t.time_off if w.id != time_off_id]
        return len(self._t.time_off) < before

    def time_off(self, ends_after: datetime) -> list[Window]:
        found = [w for w in self._t.time_off if w.ends_at > ends_after]
        return sorted(found, key=lambda w: (w.starts_at, w.id or 0))

    def upsert_policy(self, policy: EscalationPolicy, at: datetime) -> bool:
        new = policy.name not in self._t.policies
        self._t.policies[policy.name] = policy
        return new

    def policies(self, names: list[str] | None = None) -> list[EscalationPolicy]:
        return [p for n, p in sorted(self._t.policies.items()) if names is None or n in names]
