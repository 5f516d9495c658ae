"""The incident aggregate: identity, status state machine, lifecycle stamps, timeline events.

Status machine (forward path and documented back-edges)::

    triggered → investigating → identified → mitigating → monitoring → resolved → closed
                     ▲  ▲            │            │            │           │
                     │  └────────────┘ hypothesis rejected     │           │
                     │  └─────────────────────────┘ mitigation failed      │
                     │  └──────────────────────────────────────┘ regression│
                     └─────────────────────────────────────────────────────┘ recurrence (reopen)

``resolved`` is reachable from every open status (false alarm, self-healing); ``closed`` only
from ``resolved`` and is final.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from so1.domain.severity import Severity
from so1.errors import InvalidTransition, ValidationFailed


class IncidentStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


_S = IncidentStatus
ALLOWED_TRANSITIONS: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    _S.TRIGGERED: (_S.INVESTIGATING, _S.IDENTIFIED, _S.MITIGATING, _S.RESOLVED),
    _S.INVESTIGATING: (_S.IDENTIFIED, _S.MITIGATING, _S.MONITORING, _S.RESOLVED),
    _S.IDENTIFIED: (_S.MITIGATING, _S.INVESTIGATING, _S.MONITORING, _S.RESOLVED),
    _S.MITIGATING: (_S.MONITORING, _S.INVESTIGATING, _S.IDENTIFIED, _S.RESOLVED),
    _S.MONITORING: (_S.RESOLVED, _S.INVESTIGATING, _S.MITIGATING),
    _S.RESOLVED: (_S.CLOSED, _S.INVESTIGATING),
    _S.CLOSED: (),
}


class AckChannel(enum.StrEnum):
    """Through what a person (or an integration that says so) acknowledged an incident."""

    API = "api"
    CLI = "cli"
    WEB = "web"
    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    INTEGRATION = "integration"  # another alert source's own acknowledgement


INCIDENT_ID_PATTERN = re.compile(r"^INC-(\d{8})-(\d{4,})$")


def format_incident_id(day: date, sequence: int) -> str:
    """``INC-YYYYMMDD-NNNN``; the number widens past 9999 rather than wrapping."""
    if sequence < 1:
        raise ValueError("incident sequence numbers start at 1")
    return f"INC-{day:%Y%m%d}-{sequence:04d}"


def is_incident_id(text: str) -> bool:
    return INCIDENT_ID_PATTERN.match(text) is not None


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    status: IncidentStatus
    severity: Severity
    detected_at: datetime
    created_at: datetime
    updated_at: datetime
    service: str | None = None
    summary: str | None = None
    impact: dict[str, Any] = field(default_factory=dict)
    commander: str | None = None
    channel: str | None = None
    resolution_summary: str | None = None
    acknowledged_at: datetime | None = None  # set only by an acknowledgement (acknowledge())
    acknowledged_by: str | None = None
    acknowledged_via: str | None = None  # an AckChannel value
    declared_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    storm: bool = False  # an alert storm (many related alerts) was folded into this incident
    private: bool = False  # a security incident: only keys with the `security` scope see it
    version: int = 1
    customer_summary: str | None = None  # the status page's words for it (not the title)


def allowed_next(status: IncidentStatus) -> tuple[IncidentStatus, ...]:
    return ALLOWED_TRANSITIONS[status]


def transition(
    incident: Incident, to: IncidentStatus, at: datetime, resolved_at: datetime | None = None
) -> Incident:
    """Return the incident moved to ``to`` with its lifecycle stamps set; pure."""
    if to not in ALLOWED_TRANSITIONS[incident.status]:
        raise InvalidTransition(
            incident.status.value, to.value, [s.value for s in allowed_next(incident.status)]
        )
    stamps: dict[str, Any] = {"status": to, "updated_at": at}  # never an acknowledgement
    if to is _S.INVESTIGATING and incident.declared_at is None:
        stamps["declared_at"] = at
    if to is _S.MONITORING and incident.mitigated_at is None:
        stamps["mitigated_at"] = at
    if to is _S.RESOLVED:
        stamps["resolved_at"] = _checked_resolution_time(incident, resolved_at or at, at)
    if to is _S.CLOSED:
        stamps["closed_at"] = at
    if incident.status is _S.RESOLVED and to is _S.INVESTIGATING:
        stamps["resolved_at"] = None  # reopened: the earlier resolution stays on the timeline
    return replace(incident, **stamps)


def acknowledge(incident: Incident, by: str, via: AckChannel, at: datetime) -> Incident:
    """The incident acknowledged by ``by`` through ``via`` at ``at``; the first one stays."""
    if incident.acknowledged_at is not None:
        return incident
    return replace(incident, acknowledged_at=at, acknowledged_by=by, acknowledged_via=via.value)


def _checked_resolution_time(incident: Incident, resolved_at: datetime, now: datetime) -> datetime:
    if resolved_at > now:
        raise ValidationFailed("resolved_at is in the future", field="resolved_at")
    if resolved_at < incident.detected_at:
        raise ValidationFailed(
            f"resolved_at is before the incident was detected ({incident.detected_at.isoformat()})",
            field="resolved_at",
        )
    return resolved_at


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One line of the incident's story; ``kind`` is a dotted name like ``status.changed``."""

    incident_id: str
    occurred_at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SeverityChange:
    incident_id: str
    from_severity: Severity | None
    to_severity: Severity
    actor: str
    reason: str | None
    changed_at: datetime


OPEN_STATUSES = tuple(s.value for s in IncidentStatus if s.is_open)
