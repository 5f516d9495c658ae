"""After a mitigation the clocks job judges the runbook's gates: effective → monitoring,
stable for the window → resolved with the seed's resolved notice; ineffective → the next
hypothesis; new symptoms → undo proposed. Each outcome once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.adapters.outbound import UrlChecker
from so1.adapters.platform.health_probe import HttpHealthProbe
from so1.bootstrap import Container
from so1.domain.health import HealthReading
from so1.domain.incidents import Incident, IncidentStatus, TimelineEvent
from so1.domain.outbound import OutboundPolicy
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import get_incident
from so1.services.incidents.recording import SYSTEM
from so1.services.verification.health import probe_services
from so1.services.verification.watch import watch_mitigations
from tests.conftest import open_incident
from tests.contract.health_server import health_server
from tests.e2e.deployer_support import SERVICE, finished

HYPOTHESES = [
    {"cause": "connection_exhaustion", "confidence": 0.85},
    {"cause": "traffic_surge", "confidence": 0.4},
]


@pytest.fixture
def incident(container: Container, railway: Any) -> Incident:
    made = open_incident(
        container,
        "API error rate spike",
        Severity.SEV2,
        service=SERVICE,
        status=IncidentStatus.INVESTIGATING,
    )
    with container.uow() as uow:
        uow.timeline.add(
            TimelineEvent(
                made.id,
                container.clock.now(),
                "triage.report",
                "so1",
                "triage",
                {"hypotheses": HYPOTHESES},
            )
        )
        uow.commit()
    return made


def mitigate(api: TestClient, incident: Incident) -> None:
    body = {
        "agent": "railway-deployer",
        "inputs": {
            "action": "set_variables",
            "service": SERVICE,
            "incident_id": incident.id,
            "variables": {"DATABASE_POOL_SIZE": "50"},
        },
    }
    run = finished(api, api.post("/v1/orchestrate", json=body).json()["run_id"])
    assert run["status"] == "completed", run


def push(api: TestClient, clock: FixedClock, metric: str, values: list[float]) -> None:
    """One sample a minute from 10 minutes before now."""
    start = clock.now() - timedelta(minutes=10)
    samples = [
        {
            "service": SERVICE,
            "metric": metric,
            "value": v,
            "at": (start + timedelta(minutes=i)).isoformat(),
        }
        for i, v in enumerate(values)
    ]
    assert api.post("/v1/metrics", json={"samples": samples}).status_code == 200


def results(api: TestClient, incident: Incident, kind: str = "verification.result") -> list[Any]:
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    return [e for e in events if e["kind"] == kind]


def watch(container: Container) -> int:
    return watch_mitigations(
        container.uow, container.clock, container.adapters.metrics, timedelta(minutes=30)
    )


def test_effective_then_stable_resolves_with_the_mitigation(
    api: TestClient, container: Container, clock: FixedClock, incident: Incident
) -> None:
    acted = clock.now()
    mitigate(api, incident)
    clock.set(acted + timedelta(minutes=10))
    push(api, clock, "error_rate", [12.0, 3.0] + [0.3] * 9)
    push(api, clock, "latency_p99_ms", [320.0] * 11)
    assert watch(container) == 1
    assert watch(container) == 0  # once per outcome
    [effective] = results(api, incident)
    assert effective["data"]["outcome"] == "effective"
    assert "✅ error_rate < 1%: 0.3" in effective["summary"]
    assert get_incident(container.uow, incident.id, SYSTEM).status is IncidentStatus.MONITORING

    clock.set(acted + timedelta(minutes=41))
    push(api, clock, "error_rate", [0.3] * 11)
    push(api, clock, "latency_p99_ms", [300.0] * 11)
    assert watch(container) == 1
    resolved = get_incident(container.uow, incident.id, SYSTEM)
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolution_summary is not None
    assert resolved.resolution_summary.startswith(
        "Set DATABASE_POOL_SIZE=(unset)→50 on control-plane-api; stable for"
    )


def test_ineffective_rejects_the_hypothesis_and_proposes_the_next(
    api: TestClient, container: Container, clock: FixedClock, incident: Incident
) -> None:
    acted = clock.now()
    mitigate(api, incident)
    clock.set(acted + timedelta(minutes=3))
    push(api, clock, "error_rate", [12.0] * 11)
    push(api, clock, "latency_p99_ms", [320.0] * 11)
    assert watch(container) == 0  # still inside the 5-minute settle window
    clock.set(acted + timedelta(minutes=7))
    push(api, clock, "error_rate", [12.0] * 11)
    assert watch(container) == 1
    [result] = results(api, incident)
    assert result["data"]["outcome"] == "ineffective"
    assert result["data"]["rejected"] == "connection_exhaustion"
    assert result["data"]["next_hypothesis"] == "traffic_surge"
    assert "Scale up" in result["data"]["proposal"]
    [rejected] = results(api, incident, "hypothesis.rejected")
    assert rejected["data"]["cause"] == "connection_exhaustion"
    assert get_incident(container.uow, incident.id, SYSTEM).status is IncidentStatus.INVESTIGATING


def test_new_symptoms_propose_the_undo(
    api: TestClient,
    container: Container,
    clock: FixedClock,
    incident: Incident,
    railway: Any,
) -> None:
    railway.variables["svc-cpa"] = {"DATABASE_POOL_SIZE": "20"}
    acted = clock.now()
    mitigate(api, incident)
    clock.set(acted + timedelta(minutes=8))
    push(api, clock, "error_rate", [12.0] * 3 + [0.3] * 8)
    push(api, clock, "latency_p99_ms", [300.0] * 3 + [900.0] * 8)
    assert watch(container) == 1
    [result] = results(api, incident)
    assert result["data"]["outcome"] == "new_symptoms"
    assert result["data"]["undo"] == {
        "action": "set_variables",
        "variables": {"DATABASE_POOL_SIZE": "20"},
    }
    assert "undo the mitigation (set_variables DATABASE_POOL_SIZE=20)" in result["summary"]


def test_an_alert_firing_after_the_mitigation_is_a_new_symptom(
    api: TestClient, container: Container, clock: FixedClock, incident: Incident
) -> None:
    acted = clock.now()
    mitigate(api, incident)
    clock.set(acted + timedelta(minutes=2))
    alert = {
        "event_action": "trigger",
        "source": "datadog",
        "service": SERVICE,
        "dedup_key": "disk",
        "summary": "Disk 95% full on control-plane-api",
    }
    assert api.post("/v1/alerts", json=alert).status_code == 202
    clock.set(acted + timedelta(minutes=8))
    push(api, clock, "error_rate", [12.0] * 3 + [0.3] * 8)
    push(api, clock, "latency_p99_ms", [300.0] * 11)
    assert watch(container) == 1
    [result] = results(api, incident)
    assert result["data"]["outcome"] == "new_symptoms"
    assert "no new alerts firing" in result["data"]["reason"]


def test_the_service_health_check_is_a_gate(
    api: TestClient, container: Container, clock: FixedClock, incident: Incident
) -> None:
    loopback = OutboundPolicy.parse("127.0.0.1/32")  # the test's health server
    container.adapters.url_guard = UrlChecker(loopback)
    probe = HttpHealthProbe(timeout=2.0, policy=loopback)
    with health_server() as (url, answer):
        body = {"tier": "critical", "health_url": url}
        assert api.put(f"/v1/services/{SERVICE}", json=body).status_code in (200, 201)
        acted = clock.now()
        mitigate(api, incident)
        clock.set(acted + timedelta(minutes=5))  # the settle window is over
        push(api, clock, "error_rate", [12.0] * 5 + [0.3] * 6)  # 5 minutes before, 6 after
        push(api, clock, "latency_p99_ms", [320.0] * 11)
        answer.status, answer.body = 503, {"status": "unhealthy", "checks": {"database": "down"}}
        assert probe_services(container.uow, container.clock, probe) == 1
        assert watch(container) == 1
        [partial] = results(api, incident)
        assert partial["data"]["outcome"] == "partial"
        assert "❌ service health checks passing: no;" in partial["summary"]
        [failing] = results(api, incident, "health.changed")
        assert failing["summary"] == (f"health check of {SERVICE} failing (HTTP 503)")

        answer.status, answer.body = 200, {"status": "healthy", "checks": {"database": "ok"}}
        clock.set(acted + timedelta(minutes=6))
        probe_services(container.uow, container.clock, probe)
        assert watch(container) == 1
        outcomes = [r["data"]["outcome"] for r in results(api, incident)]
        assert outcomes == ["partial", "effective"]
        changes = [e["summary"] for e in results(api, incident, "health.changed")]
        assert changes[-1] == f"health check of {SERVICE} passing (HTTP 200)"
        assert "database" not in str(results(api, incident, "health.changed"))  # no body
        probe_services(container.uow, container.clock, probe)  # no change: no new note
        assert len(results(api, incident, "health.changed")) == 2

    refused = api.put(f"/v1/services/{SERVICE}", json={"tier": "high", "health_url": "ftp://x"})
    assert refused.status_code == 422 and "health_url must be an http" in refused.text


class BarrierProbe:
    """Answers only once ``parties`` probes wait at the same time: serial probing breaks it."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)

    def check(self, url: str) -> HealthReading:
        self.barrier.wait()
        return HealthReading(True, f"200 {url}")


def test_services_health_checks_are_asked_side_by_side(
    api: TestClient, container: Container
) -> None:
    names = ["api", "billing", "search"]
    for name in names:
        body = {"tier": "high", "health_url": f"http://{name}.internal/health"}
        assert api.put(f"/v1/services/{name}", json=body).status_code == 201
        open_incident(container, f"{name} is slow", Severity.SEV3, service=name)
    probe = BarrierProbe(len(names))
    assert probe_services(container.uow, container.clock, probe) == 3
    assert not probe.barrier.broken
