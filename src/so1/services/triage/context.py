"""What the triage-responder is shown: the alert, and from the database the catalog around
its service, recent deployments and flag flips, related alerts and similar past incidents
(DESIGN §3 inputs), as the domain records themselves."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from so1.agents.triage import ServiceFlagChange, TriageInput
from so1.domain.alerts import Alert
from so1.domain.intake import connected_services
from so1.domain.plain import plain
from so1.ports import UnitOfWork
from so1.services.incidents.similar import similar_incidents

DEPLOY_LOOKBACK = timedelta(hours=4)
MAX_RELATED = 50


def triage_inputs(uow: UnitOfWork, alert: Alert, now: datetime, window: timedelta) -> TriageInput:
    """The agent's inputs for ``alert``; only reads."""
    catalog = uow.catalog.all()
    graph = {s.name: s.dependencies for s in catalog}
    services = connected_services(alert.service, graph) if alert.service else set()

    def in_scope(name: str) -> bool:
        return not services or name in services

    deployments = uow.deployments.recent(now - DEPLOY_LOOKBACK, None)
    flips = uow.flags.changes_since(now - DEPLOY_LOOKBACK)
    # Read no more than is shown: on a storm's service the window holds thousands of alerts.
    nearby = uow.alerts.recent(sorted(services), now - window, MAX_RELATED + 1)
    related = [a for a in nearby if a.id != alert.id]
    query = f"{alert.summary} {alert.service or ''} {alert.metric or ''}"
    return TriageInput(
        alert=alert,
        now=now,
        services=tuple(s for s in catalog if s.name in services),
        deployments=tuple(d for d in deployments if in_scope(d.service)),
        flag_changes=tuple(
            ServiceFlagChange(change, service)
            for change, service in flips
            if service is None or in_scope(service)
        ),
        related_alerts=tuple(related[:MAX_RELATED]),
        incident_id=alert.incident_id,
        similar_incidents=tuple(similar_incidents(uow, query, alert.incident_id)),
    )


def recorded(inputs: TriageInput) -> dict[str, Any]:
    """The inputs as the agent run keeps them (JSON); related alerts without their details,
    as before, so a run's record stays small."""
    lean = tuple(replace(a, details={}) for a in inputs.related_alerts)
    kept: dict[str, Any] = plain(replace(inputs, related_alerts=lean))
    return kept
