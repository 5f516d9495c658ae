"""Incident use cases: declare, read, list, update (status, severity, fields), timeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from so1.domain.incidents import (
    Incident,
    IncidentStatus,
    SeverityChange,
    TimelineEvent,
    transition,
)
from so1.domain.participants import Role
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read, sees_private
from so1.services.declaration.outbox import queue_resolution
from so1.services.declaration.severity import follow_severity_change
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor, Change, record, record_many
from so1.services.incidents.severity import record_severity_change, required_reason

_EDITABLE_FIELDS = (
    "title",
    "summary",
    "service",
    "impact",
    "commander",
    "channel",
    "customer_summary",
)


@dataclass(frozen=True, slots=True)
class NewIncident:
    title: str
    severity: Severity
    status: IncidentStatus = IncidentStatus.TRIGGERED
    service: str | None = None
    summary: str | None = None
    impact: dict[str, Any] = field(default_factory=dict)
    commander: str | None = None
    channel: str | None = None
    detected_at: datetime | None = None
    customer_summary: str | None = None  # what the status page may say
    storm: bool = False  # opened for an alert storm (triage gathered that many alerts)


@dataclass(frozen=True, slots=True)
class IncidentPatch:
    """Only the fields that are set change; a severity change needs ``severity_reason``."""

    status: IncidentStatus | None = None
    severity: Severity | None = None
    severity_reason: str | None = None
    resolution_summary: str | None = None
    resolved_at: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def create_incident(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, new: NewIncident
) -> Incident:
    now = clock.now()
    detected_at = new.detected_at or now
    if detected_at > now:
        raise ValidationFailed("detected_at is in the future", field="detected_at")
    if new.status not in (IncidentStatus.TRIGGERED, IncidentStatus.INVESTIGATING):
        raise ValidationFailed(
            "a new incident starts as 'triggered' or 'investigating'", field="status"
        )
    with uow_factory() as uow:
        incident = declare(uow, actor, now, new, detected_at)
        uow.commit()
    return incident


def declare(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    new: NewIncident,
    detected_at: datetime,
    notes: Callable[[Incident], Sequence[Change]] | None = None,
) -> Incident:
    """Create the incident inside the caller's transaction (used by triage too). ``notes``:
    the lines its timeline starts with after the first (given the incident), written with it
    in the same two round trips (triage opens incidents holding the day's counter)."""
    incident = Incident(
        id=uow.incidents.next_id(now.date()),
        title=new.title,
        status=IncidentStatus.TRIGGERED,
        severity=new.severity,
        detected_at=detected_at,
        created_at=now,
        updated_at=now,
        service=new.service,
        summary=new.summary,
        impact=dict(new.impact),
        commander=new.commander,
        channel=new.channel,
        customer_summary=new.customer_summary,
        storm=new.storm,
    )
    if new.status is IncidentStatus.INVESTIGATING:
        incident = transition(incident, IncidentStatus.INVESTIGATING, now)
    uow.incidents.add(incident)
    uow.incidents.add_severity_change(
        SeverityChange(incident.id, None, new.severity, actor.name, "declared", now)
    )
    record_many(uow, actor, now, [_created_change(incident), *(notes(incident) if notes else ())])
    if incident.commander:
        hand_role(uow, actor, now, incident.id, incident.commander, Role.COMMANDER)
    return incident


def _created_change(incident: Incident) -> Change:
    """The first timeline event: ``incident.declared`` only when the record starts declared
    (``investigating``, ``declared_at`` set); a ``triggered`` one is just recorded, and is
    declared later (its move to investigating, or the incident-commander's war room)."""
    declared = incident.declared_at is not None
    verb = "declared" if declared else "recorded"
    return Change(
        action="incident.create",
        resource_type="incident",
        resource_id=incident.id,
        summary=f"{incident.severity} incident {verb}: {incident.title}",
        detail={"severity": incident.severity.value, "status": incident.status.value},
        incident_id=incident.id,
        timeline_kind=EventKind.INCIDENT_DECLARED if declared else EventKind.INCIDENT_RECORDED,
    )


def get_incident(uow_factory: UnitOfWorkFactory, incident_id: str, actor: Actor) -> Incident:
    """The incident, if ``actor`` may read it (clearance: a hidden one does not exist)."""
    with uow_factory(read_only=True) as uow:
        require_read(uow, actor, incident_id)
        return _require(uow, incident_id)


def list_incidents(
    uow_factory: UnitOfWorkFactory, flt: IncidentFilter, actor: Actor
) -> tuple[list[Incident], int]:
    """Security incidents are left out for an ``actor`` without clearance."""
    shown = replace(flt, include_private=flt.include_private and sees_private(actor))
    with uow_factory(read_only=True) as uow:
        return uow.incidents.search(shown)


def incident_timeline(
    uow_factory: UnitOfWorkFactory, incident_id: str, actor: Actor
) -> list[TimelineEvent]:
    with uow_factory(read_only=True) as uow:
        require_read(uow, actor, incident_id)
        _require(uow, incident_id)
        return uow.timeline.for_incident(incident_id)


def severity_history(
    uow_factory: UnitOfWorkFactory, incident_id: str, actor: Actor
) -> list[SeverityChange]:
    with uow_factory(read_only=True) as uow:
        require_read(uow, actor, incident_id)
        _require(uow, incident_id)
        return uow.incidents.severity_changes(incident_id)


def update_incident(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    patch: IncidentPatch,
) -> Incident:
    now = clock.now()
    if patch.resolved_at is not None and patch.status is not IncidentStatus.RESOLVED:
        raise ValidationFailed("resolved_at is only accepted with status 'resolved'", "resolved_at")
    with uow_factory() as uow:
        require_act(uow, actor, incident_id)
        before = _require(uow, incident_id, for_update=True)
        after = _apply_fields(uow, actor, now, before, patch)
        after = apply_severity(uow, actor, now, after, patch)
        after = _apply_status(uow, actor, now, after, patch)
        if after != before:
            after = replace(after, updated_at=now, version=before.version + 1)
            uow.incidents.update(after, expected_version=before.version)
        uow.commit()
    return after


def _apply_fields(
    uow: UnitOfWork, actor: Actor, now: datetime, incident: Incident, patch: IncidentPatch
) -> Incident:
    unknown = set(patch.fields) - set(_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"fields cannot be changed: {', '.join(sorted(unknown))}")
    changed = {k: v for k, v in patch.fields.items() if getattr(incident, k) != v}
    if patch.resolution_summary is not None:
        changed["resolution_summary"] = patch.resolution_summary
    if not changed:
        return incident
    change = Change(
        action="incident.update",
        resource_type="incident",
        resource_id=incident.id,
        summary="updated " + ", ".join(sorted(changed)),
        detail={"changed": changed},
        incident_id=incident.id,
        timeline_kind=EventKind.INCIDENT_UPDATED,
    )
    record(uow, actor, now, change)
    if "commander" in changed:
        _follow_commander(uow, actor, now, incident, changed["commander"])
    return replace(incident, **changed)


def _follow_commander(
    uow: UnitOfWork, actor: Actor, now: datetime, incident: Incident, handle: str | None
) -> None:
    """Keep the commander role's time range in step with the incident's commander field."""
    if handle:
        hand_role(uow, actor, now, incident.id, handle, Role.COMMANDER)
    elif incident.commander:
        uow.participants.renounce(incident.id, incident.commander, Role.COMMANDER, now)


def apply_severity(
    uow: UnitOfWork, actor: Actor, now: datetime, incident: Incident, patch: IncidentPatch
) -> Incident:
    """A severity change needs a reason; it is recorded, and on a declared incident the
    runbook's actions for the new level follow (services/declaration/severity)."""
    if patch.severity is None or patch.severity is incident.severity:
        return incident
    reason = required_reason(patch.severity_reason)
    changed = record_severity_change(uow, actor, now, incident, patch.severity, reason)
    return follow_severity_change(uow, now, actor, changed, incident.severity, reason)


def _apply_status(
    uow: UnitOfWork, actor: Actor, now: datetime, incident: Incident, patch: IncidentPatch
) -> Incident:
    if patch.status is None or patch.status is incident.status:
        return incident
    moved = transition(incident, patch.status, now, resolved_at=patch.resolved_at)
    detail: dict[str, Any] = {"from": incident.status.value, "to": moved.status.value}
    if moved.resolved_at and patch.status is IncidentStatus.RESOLVED:
        detail["resolved_at"] = moved.resolved_at.isoformat()
    change = Change(
        action="incident.status",
        resource_type="incident",
        resource_id=incident.id,
        summary=f"status {incident.status} → {moved.status}",
        detail=detail,
        incident_id=incident.id,
        timeline_kind=EventKind.STATUS_CHANGED,
    )
    record(uow, actor, now, change)
    if moved.status is IncidentStatus.RESOLVED:  # tell the room, customers, the pager
        queue_resolution(uow, now, moved)
    return moved


def _require(uow: UnitOfWork, incident_id: str, for_update: bool = False) -> Incident:
    incident = uow.incidents.get(incident_id, for_update=for_update)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident
