"""The public status page (builtin adapter's read side): customer-facing components and the
incidents that were announced on it, with their updates, over the last 90 days.

Only what was delivered to the status page is shown, so an incident nobody announced (SEV2-4,
security incidents, a draft nobody published) never appears here. Nothing public carries the
incident's id or internal title: a notice is known by its own id and titled by what was
published (the service's public name at worst)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from so1.agents.commander.comms import title_case
from so1.domain.catalog import CatalogService
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.ports import UnitOfWork, UnitOfWorkFactory

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
    id: str  # the notice's own ("notice-12"), never the incident's
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
        catalog = uow.catalog.all()
    services = {s.name: s.public_name for s in catalog if s.public_name}
    components = dict.fromkeys(sorted(set(services.values())), "operational")
    shown = []
    for incident in (i for i in incidents if i is not None):
        fallback = public_name_in(catalog, incident.service)
        public = _public(incident, by_incident[incident.id], fallback)
        shown.append(public)
        name = services.get(incident.service or "")
        if name and public.resolved_at is None:
            components[name] = max(components[name], public.impact, key=STATES.index)
    overall = max(components.values(), key=STATES.index, default="operational")
    shown.sort(key=lambda p: (p.resolved_at is not None, -p.started_at.timestamp()))
    return PublicStatus(overall, components, shown)


def public_service_name(uow: UnitOfWork, service: str | None) -> str:
    return public_name_in(uow.catalog.all(), service)


def public_name_in(catalog: list[CatalogService], service: str | None) -> str:
    """What customers call ``service``: its catalog ``public_name``, else its name made
    readable ("checkout-api" → "Checkout API"), else "Our service"."""
    if not service:
        return "Our service"
    found = next((s for s in catalog if s.name == service), None)
    if found is not None and found.public_name:
        return found.public_name
    return title_case(service.replace("-", " ").replace("_", " "))


def _public(incident: Incident, messages: list[Outbound], fallback: str) -> PublicIncident:
    updates = [
        PublicUpdate(
            m.sent_at or m.created_at, str(m.payload.get("state", "investigating")), m.body
        )
        for m in messages
    ]
    resolved = incident.resolved_at if not incident.status.is_open else None
    state = "resolved" if resolved else updates[-1].state
    title = str(messages[0].payload.get("title") or f"{fallback} disruption")
    impact = _BY_SEVERITY.get(incident.severity, "degraded_performance")
    notice = f"notice-{messages[0].id}"
    return PublicIncident(
        notice, title, state, impact, incident.detected_at, resolved, list(reversed(updates))
    )
