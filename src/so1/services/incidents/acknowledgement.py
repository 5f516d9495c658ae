"""Acknowledging an incident: the only writer of ``acknowledged_at``. A person acknowledges
through the API, CLI, web or a Slack 👀 reaction, or an integration says someone did (a
PagerDuty acknowledgement, another source's acknowledge event). The first one is kept with who
and through what; nothing else (a status change, declaring, resolving) acknowledges."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from so1.domain.incidents import AckChannel, Incident, acknowledge
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.outbox import queue_pager_followups
from so1.services.incidents.recording import Actor, Change, record

ACKNOWLEDGE_TARGET_SECONDS = 120  # runbook Phase 1: acknowledge within 2 minutes


def acknowledge_incident(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    via: AckChannel,
) -> Incident:
    """A person acknowledges the incident (the page): stops the acknowledgement clock and
    shows the commander present. Acknowledging twice keeps the first time."""
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, incident_id)
        incident = uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        acked = acknowledge_in(uow, actor, now, incident, via)
        uow.commit()
    return acked


def acknowledge_in(
    uow: UnitOfWork, actor: Actor, now: datetime, incident: Incident, via: AckChannel
) -> Incident:
    """Acknowledge in the caller's transaction (``incident`` read for update); the timeline
    says who, through what and how long after detection. Already acknowledged: unchanged."""
    if incident.acknowledged_at is not None:
        return incident
    acked = acknowledge(incident, actor.holder, via, now)
    acked = replace(acked, updated_at=now, version=incident.version + 1)
    uow.incidents.update(acked, expected_version=incident.version)
    seconds = round((now - incident.detected_at).total_seconds())
    detail = {
        "by": actor.holder,
        "via": via.value,
        "seconds_to_acknowledge": seconds,
        "within_target": seconds <= ACKNOWLEDGE_TARGET_SECONDS,
    }
    summary = f"{actor.holder} acknowledged via {via} ({seconds} s after detection)"
    change = Change(
        "incident.acknowledge",
        "incident",
        incident.id,
        summary,
        detail,
        incident_id=incident.id,
        timeline_kind=EventKind.INCIDENT_ACKNOWLEDGED,
    )
    record(uow, actor, now, change)
    if via is not AckChannel.PAGERDUTY:  # the pager acknowledged it itself
        queue_pager_followups(uow, now, incident.id, "acknowledge")
    return acked
