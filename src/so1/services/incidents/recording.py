"""Who is acting and from where, and the one way a change is written down: ``record()`` writes
the audit row and, for an incident, its timeline event, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from so1.domain.incidents import TimelineEvent
from so1.domain.records import AuditRecord, Outcome
from so1.domain.timeline import EventKind
from so1.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Actor:
    """``name`` is the key's name (or ``system``/``cli``); ``key_id`` ties it to the audit;
    ``person`` is who holds the key, when the key says so."""

    name: str
    key_id: str | None = None
    source_ip: str | None = None
    security_cleared: bool = True  # the key has the `security` scope; the CLI and agents do
    can_deploy: bool = True  # the key has the deploy scope (or admin): platform actions
    person: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key_id})" if self.key_id else self.name

    @property
    def holder(self) -> str:
        """The person acting (the key's name when the key names no person): what the
        two-person rule compares."""
        return self.person or self.name


SYSTEM = Actor(name="system")


@dataclass(frozen=True, slots=True)
class Change:
    """A mutation's audit line and, when it concerns an incident, its timeline event."""

    action: str
    resource_type: str
    resource_id: str | None
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None
    timeline_kind: EventKind | None = None


def record(uow: UnitOfWork, actor: Actor, at: datetime, change: Change) -> None:
    """Write the audit record (and the timeline event) in the caller's transaction; with
    ``record_many``, the only writer of timeline events (tests/unit/test_post_commit.py)."""
    uow.audit.add(_audit_record(actor, at, change))
    if change.incident_id and change.timeline_kind:
        uow.timeline.add(_timeline_event(actor, at, change))


def record_many(uow: UnitOfWork, actor: Actor, at: datetime, changes: Sequence[Change]) -> None:
    """``record`` of each change, their audit records in one round trip and their timeline
    events in another (a triage pass joins alerts to many incidents at once)."""
    uow.audit.add_many([_audit_record(actor, at, c) for c in changes])
    events = [_timeline_event(actor, at, c) for c in changes if c.incident_id and c.timeline_kind]
    uow.timeline.add_many(events)


def _audit_record(actor: Actor, at: datetime, change: Change) -> AuditRecord:
    return AuditRecord(
        at=at,
        actor=actor.label,
        action=change.action,
        resource_type=change.resource_type,
        resource_id=change.resource_id,
        outcome=Outcome.SUCCESS,
        source_ip=actor.source_ip,
        detail=change.detail,
        incident_id=change.incident_id
        or (change.resource_id if change.resource_type == "incident" else None),
    )


def _timeline_event(actor: Actor, at: datetime, change: Change) -> TimelineEvent:
    assert change.incident_id is not None
    assert change.timeline_kind is not None
    return TimelineEvent(
        incident_id=change.incident_id,
        occurred_at=at,
        kind=change.timeline_kind,
        actor=actor.name,
        summary=change.summary,
        data=change.detail,
    )


def note(
    uow: UnitOfWork,
    actor: Actor,
    at: datetime,
    incident_id: str,
    kind: EventKind,
    summary: str,
    data: dict[str, Any] | None = None,
) -> None:
    """A line on an incident's timeline that is not a change of a resource of its own (a
    delivery, a probe, an escalation step): audited as ``kind`` on the incident."""
    record(uow, actor, at, noted(incident_id, kind, summary, data))


def noted(
    incident_id: str, kind: EventKind, summary: str, data: dict[str, Any] | None = None
) -> Change:
    """The change ``note`` records (for ``record_many``)."""
    return Change(kind, "incident", incident_id, summary, data or {}, incident_id, kind)
