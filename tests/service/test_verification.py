"""Phase 4, verification: the incident's service metrics before and after the mitigation,
read through the metrics port and judged against the runbook's gates, with the service's
own health probes and the alerts that fired since."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from so1.domain.alerts import AlertAction, AlertEvent, AlertSource
from so1.domain.catalog import CatalogService, Tier
from so1.domain.health import HealthReading
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.timeline import EventKind
from so1.domain.verification import Outcome
from so1.errors import Unavailable, ValidationFailed
from so1.services.incidents.lifecycle import IncidentPatch, update_incident
from so1.services.verification.gates import verify_incident
from so1.services.verification.health import probe_services
from tests.fakes import FakeClock, FakeDatabase, FakeHealthProbe, FakeMetricsSource
from tests.service.conftest import ALICE, open_incident

SERVICE = "control-plane-api"
HEALTH_URL = "http://control-plane-api.internal/health"


def mitigated(db: FakeDatabase, clock: FakeClock) -> Incident:
    """An incident moved to monitoring now (its ``mitigated_at`` is the action's time)."""
    incident = open_incident(db, clock, service=SERVICE)
    for status in (IncidentStatus.INVESTIGATING, IncidentStatus.MONITORING):
        incident = update_incident(db.uow, clock, ALICE, incident.id, IncidentPatch(status=status))
    assert incident.mitigated_at == clock.now()
    return incident


def metrics_around(acted_at: datetime, after: list[float]) -> FakeMetricsSource:
    """Errors at 12% and p99 at 300 ms for the quarter hour before; ``after`` a minute apart."""
    source = FakeMetricsSource()
    start = acted_at - timedelta(minutes=15)
    source.add(SERVICE, "error_rate", start, [12.0] * 15)
    source.add(SERVICE, "latency_p99_ms", start, [300.0] * 15)
    source.add(SERVICE, "error_rate", acted_at, after)
    source.add(SERVICE, "latency_p99_ms", acted_at, [300.0] * len(after))
    return source


def test_a_fix_that_holds_for_the_stability_window_is_stable(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = mitigated(db, clock)
    source = metrics_around(clock.now(), [8.0, 3.0] + [0.3] * 40)
    clock.advance(timedelta(minutes=41))

    service, acted_at, verdict = verify_incident(db.uow, clock, source, incident.id, ALICE)

    assert (service, acted_at) == (SERVICE, incident.mitigated_at)
    assert verdict.outcome is Outcome.STABLE, verdict.reason
    assert verdict.failing == []


def test_no_change_after_the_settle_window_is_ineffective(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = mitigated(db, clock)
    source = metrics_around(clock.now(), [12.0] * 11)
    clock.advance(timedelta(minutes=10))

    _, _, verdict = verify_incident(db.uow, clock, source, incident.id, ALICE)

    assert verdict.outcome is Outcome.INEFFECTIVE, verdict.reason
    assert verdict.failing == ["error_rate < 1%"]


def test_an_alert_that_fires_after_the_action_fails_its_gate(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = mitigated(db, clock)
    source = metrics_around(clock.now(), [0.3] * 41)
    clock.advance(timedelta(minutes=20))
    with db.uow() as uow:
        event = AlertEvent(
            AlertSource.EVENTS, AlertAction.TRIGGER, "mem-1", "Memory high", service=SERVICE
        )
        uow.alerts.trigger(event, "al_mem", clock.now())
        uow.commit()
    clock.advance(timedelta(minutes=20))

    _, _, verdict = verify_incident(db.uow, clock, source, incident.id, ALICE)

    assert "no new alerts firing" in verdict.failing
    assert verdict.outcome is not Outcome.STABLE


def test_the_services_own_health_probes_are_a_gate(db: FakeDatabase, clock: FakeClock) -> None:
    with db.uow() as uow:
        uow.catalog.upsert(CatalogService(SERVICE, Tier.CRITICAL, health_url=HEALTH_URL))
        uow.commit()
    incident = mitigated(db, clock)
    acted_at = clock.now()
    source = metrics_around(acted_at, [0.3] * 41)
    probe = FakeHealthProbe({HEALTH_URL: HealthReading(False, "503 unhealthy", 503)})
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        assert probe_services(db.uow, clock, probe) == 1

    _, _, verdict = verify_incident(db.uow, clock, source, incident.id, ALICE)

    assert probe.checked == [HEALTH_URL] * 3
    assert "service health checks passing" in verdict.failing
    with db.uow(read_only=True) as uow:
        noted = uow.timeline.for_incident(incident.id, [EventKind.HEALTH_CHANGED])
    assert [e.summary for e in noted] == [f"health check of {SERVICE} failing (HTTP 503)"]


def test_nothing_to_measure_is_refused_naming_the_field(db: FakeDatabase, clock: FakeClock) -> None:
    unmitigated = open_incident(db, clock, service=SERVICE)
    with pytest.raises(ValidationFailed, match="no mitigation recorded") as refused:
        verify_incident(db.uow, clock, FakeMetricsSource(), unmitigated.id, ALICE)
    assert refused.value.field == "acted_at"
    serviceless = open_incident(db, clock, service=None)
    with pytest.raises(ValidationFailed, match="names no service"):
        verify_incident(db.uow, clock, FakeMetricsSource(), serviceless.id, ALICE)


def test_a_metrics_source_that_cannot_answer_is_unavailable(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = mitigated(db, clock)
    source = FakeMetricsSource()
    source.down = True
    clock.advance(timedelta(minutes=5))
    with pytest.raises(Unavailable):
        verify_incident(db.uow, clock, source, incident.id, ALICE)
