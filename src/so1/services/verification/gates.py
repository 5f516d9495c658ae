"""Verify a mitigation against the runbook's gates: read the incident's service metrics before
and after the action through the metrics port, and judge them (domain/verification.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from so1.domain.alerts import AlertStatus
from so1.domain.catalog import CatalogService, Tier
from so1.domain.health import HEALTH_METRIC
from so1.domain.incidents import Incident
from so1.domain.verification import HEALTH_GATE, STABILITY, Verdict, gates_for, judge
from so1.errors import ValidationFailed
from so1.ports import AlertFilter, Clock, MetricsSource, UnitOfWorkFactory
from so1.services.incidents.lifecycle import get_incident
from so1.services.incidents.recording import Actor

BEFORE = timedelta(minutes=15)  # the "before" level: the quarter hour before the action
STEP_SECONDS = 30
POINTS_PER_WINDOW = 60  # a shortened stability window is read finer: no sample goes unseen


def step_for(stability: timedelta) -> int:
    """Seconds between the points judged: 30 for the runbook's 30 minutes, down to 1 for a
    window of a minute or less, so a shortened window is not judged on one or two points."""
    return max(1, min(STEP_SECONDS, int(stability.total_seconds() // POINTS_PER_WINDOW)))


def verify_incident(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: MetricsSource,
    incident_id: str,
    actor: Actor,
    acted_at: datetime | None = None,
    stability: timedelta = STABILITY,
) -> tuple[str, datetime, Verdict]:
    """Returns (service, acted_at, verdict). ``acted_at`` defaults to when the incident was
    marked mitigated; ``stability``: the server's window (SO1_STABILITY_MINUTES)."""
    incident = get_incident(uow_factory, incident_id, actor)
    if incident.service is None:
        raise ValidationFailed(
            f"incident {incident_id} names no service to measure", field="service"
        )
    acted_at = acted_at or incident.mitigated_at
    if acted_at is None:
        raise ValidationFailed(
            "no mitigation recorded on the incident yet; pass acted_at", field="acted_at"
        )
    if acted_at >= clock.now():
        raise ValidationFailed("acted_at must be in the past", field="acted_at")
    return (
        incident.service,
        acted_at,
        judge_incident(uow_factory, clock, source, incident, acted_at, stability),
    )


def judge_incident(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: MetricsSource,
    incident: Incident,
    acted_at: datetime,
    stability: timedelta = STABILITY,
) -> Verdict:
    """The gates of the incident's service judged from ``acted_at`` to now."""
    assert incident.service is not None
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        entry = uow.catalog.get(incident.service) or CatalogService(incident.service, Tier.MEDIUM)
    gates = gates_for(entry.baselines)
    step = step_for(stability)
    last_before = acted_at - timedelta(seconds=1)  # the action's own instant counts as after
    before = {
        g.metric: source.series(entry, g.metric, acted_at - BEFORE, last_before, step)
        for g in gates
    }
    after = {g.metric: source.series(entry, g.metric, acted_at, now, step) for g in gates}
    if entry.health_url:  # the runbook's "Service health checks passing", from our probes
        gates += (HEALTH_GATE,)
        with uow_factory(read_only=True) as uow:
            before[HEALTH_METRIC] = uow.metrics.range(
                entry.name, HEALTH_METRIC, acted_at - BEFORE, last_before
            )
            after[HEALTH_METRIC] = uow.metrics.range(entry.name, HEALTH_METRIC, acted_at, now)
    fired = _new_alerts(uow_factory, incident.service, acted_at)
    return judge(gates, before, after, acted_at, now, stability=stability, new_alerts=fired)


def _new_alerts(uow_factory: UnitOfWorkFactory, service: str, acted_at: datetime) -> list[datetime]:
    """When the service's alerts that first fired after the action and still fire did."""
    firing = (AlertStatus.FIRING.value, AlertStatus.ACKNOWLEDGED.value)
    with uow_factory(read_only=True) as uow:
        found, _ = uow.alerts.search(AlertFilter(status=firing, service=service, limit=500))
    return [a.first_seen_at for a in found if a.first_seen_at > acted_at]
