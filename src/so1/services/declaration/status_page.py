"""The public status page (builtin adapter's read side): customer-facing components and the
incidents that were announced on it, with their updates, over the last 90 days.

Only what was delivered to the status page is shown, so an incident nobody announced (SEV2-4,
security incidents) never appears here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.ports import UnitOfWorkFactory

HISTORY = timedelta(days=90)
# Statuspage's component states, worst last.
STATES = ("operational", "degraded_performance", "partial_outage", "major_outage")
_BY_SEVERITY = {Severity.SEV0: "major_outage", Severity.SEV1: "partial_outage"}


@dataclass(frozen=True, slots=True)
class PublicUpdate:
    at: datetime
    state: str
    text: str


@dataclass(frozen=True, slots=True)
class PublicIncident:
    id: str
    title: str
    state: str  # investigating, identified, monitoring, resolved
    impact: str
    started_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublicStatus:
    status: str
    components: dict[str, str]
    incidents: list[PublicIncident]


def public_status(uow_factory: UnitOfWorkFactory, now: datetime) -> PublicStatus:
    with uow_factory(read_only=True) as uow:
        posted = uow.outbox.sent_to(Destination.STATUS_PAGE, now - HISTORY)
        by_incident: dict[str, list[Outbound]] = defaultdict(list)
        for message in posted:
            by_incident[message.incident_id].append(message)
        incidents = [uow.incidents.get(i) for i in by_incident]
        services = {s.name: s.public_name for s in uow.catalog.all() if s.public_name}
    components = dict.fromkeys(sorted(set(services.values())), "operational")
    shown = []
    for incident in (i for i in incidents if i is not None):
        public = _public(incident, by_incident[incident.id])
        shown.append(public)
        name = services.get(incident.service or "")
        if name and public.resolved_at is None:
            components[name] = max(components[name], public.impact, key=STATES.index)
    overall = max(components.values(), key=STATES.index, default="operational")
    shown.sort(key=lambda p: (p.resolved_at is not None, -p.started_at.timestamp()))
    return PublicStatus(overall, components, shown)


def _public(incident: Incident, messages: list[Outbound]) -> PublicIncident:
    updates = [
        PublicUpdate(
            m.sent_at or m.created_at, str(m.payload.get("state", "investigating")), m.body
        )
        for m in messages
    ]
    resolved = incident.resolved_at if not incident.status.is_open else None
    state = "resolved" if resolved else updates[-1].state
    title = str(messages[0].payload.get("title") or incident.title)
    impact = _BY_SEVERITY.get(incident.severity, "degraded_performance")
    return PublicIncident(
        incident.id, title, state, impact, incident.detected_at, resolved, list(reversed(updates))
    )
