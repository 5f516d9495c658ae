"""Analytics over the incident record (GET /v1/analytics, `so1 report`)."""

from __future__ import annotations

from datetime import datetime

from so1.domain.analytics import IncidentFacts, summarize
from so1.domain.incidents import Incident
from so1.domain.runbook import CheckState, evaluate
from so1.domain.timeline import EventKind
from so1.errors import ValidationFailed
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import sees_private
from so1.services.incidents.causes import incident_cause
from so1.services.incidents.recording import Actor
from so1.services.runbook.checks import gather_facts, runbook_checks

LIMIT = 10_000
MISSED = (CheckState.DONE_LATE, CheckState.LATE)


def analytics(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, since: datetime, until: datetime
) -> dict[str, object]:
    """Security incidents count only for an ``actor`` with clearance."""
    if until <= since:
        raise ValidationFailed("'until' must be after 'since'", field="until")
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        shown = IncidentFilter(limit=LIMIT, include_private=sees_private(actor))
        found, _ = uow.incidents.search(shown)
        facts = [_facts(uow, i, now) for i in found if since <= i.detected_at < until]
    return {"since": since.isoformat(), "until": until.isoformat()} | summarize(facts)


def _facts(uow: UnitOfWork, incident: Incident, now: datetime) -> IncidentFacts:
    checks = evaluate(runbook_checks(), gather_facts(uow, incident), now)
    return IncidentFacts(
        id=incident.id,
        severity=incident.severity.value,
        service=incident.service,
        cause=incident_cause(uow, incident.id),
        detected_at=incident.detected_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=_mitigated(uow, incident),
        resolved_at=incident.resolved_at,
        missed_checks=tuple(c.id for c in checks if c.state in MISSED),
    )


def _mitigated(uow: UnitOfWork, incident: Incident) -> datetime | None:
    done = [
        e.occurred_at
        for e in uow.timeline.for_incident(incident.id, [EventKind.MITIGATION_FINISHED])
        if e.data.get("ok")
    ]
    return done[0] if done else incident.mitigated_at
