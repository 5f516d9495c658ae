"""A severity change on the record: the history row, the audit and the timeline event, in the
caller's transaction. The runbook actions that follow it are services/declaration/severity."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from so1.domain.incidents import Incident, SeverityChange
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import ValidationFailed
from so1.ports import UnitOfWork
from so1.services.incidents.recording import Actor, Change, record

REASON_LIMIT = 2_000


def required_reason(reason: str | None) -> str:
    """The reason a severity change must carry, trimmed; refused (naming it) when empty."""
    given = (reason or "").strip()
    if not given:
        raise ValidationFailed(
            "a severity change needs a reason: say why (severity_reason)", field="severity_reason"
        )
    if len(given) > REASON_LIMIT:
        raise ValidationFailed(
            f"the reason is longer than {REASON_LIMIT} characters", field="severity_reason"
        )
    return given


def record_severity_change(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    incident: Incident,
    severity: Severity,
    reason: str,
) -> Incident:
    """``incident`` at ``severity``, the change kept in its history and on its timeline."""
    if severity is incident.severity:
        return incident
    uow.incidents.add_severity_change(
        SeverityChange(incident.id, incident.severity, severity, actor.name, reason, now)
    )
    change = Change(
        action="incident.severity",
        resource_type="incident",
        resource_id=incident.id,
        summary=f"severity {incident.severity} → {severity}: {reason}",
        detail={"from": incident.severity.value, "to": severity.value, "reason": reason},
        incident_id=incident.id,
        timeline_kind=EventKind.SEVERITY_CHANGED,
    )
    record(uow, actor, now, change)
    return replace(incident, severity=severity)
