"""Phase 3 context in one call: what changed between deployments, key metrics, error log
patterns new since the previous deployment (drain3), the symptom table, hypotheses."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from tests.conftest import open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import SERVICE


def seed_world(
    api: TestClient, container: Container, clock: FixedClock, railway: RailwayState
) -> str:
    now = clock.now()
    for version, sha, pool, hours in (
        ("v1.4.1", "aaa111", "20", 30),
        ("v1.4.2", "bbb222", "20", 4),
    ):
        body = {
            "service": SERVICE,
            "version": version,
            "commit_sha": sha,
            "deployed_by": "alice",
            "deployed_at": (now - timedelta(hours=hours)).isoformat(),
            "config": {"DATABASE_POOL_SIZE": pool, "BULK_EXECUTION": hours == 4},
        }
        assert api.post("/v1/deployments", json=body).status_code == 201
    samples = [
        {
            "service": SERVICE,
            "metric": m,
            "value": v,
            "at": (now - timedelta(minutes=i)).isoformat(),
        }
        for i in range(10)
        for m, v in (
            ("error_rate", 12.0),
            ("db_pool_utilization", 100.0),
            ("latency_p99_ms", 340.0),
        )
    ]
    assert api.post("/v1/metrics", json={"samples": samples}).status_code == 200
    live = railway.deployments["svc-cpa"][-1]["id"]
    previous = railway.deployments["svc-cpa"][-2]["id"]
    railway.logs[live] = [
        f"Connection timeout after {5000 + i}ms acquiring connection {i}" for i in range(6)
    ]
    railway.logs[live] += [
        "Traceback (most recent call last):",
        '  File "pool.py", line 3, in get',
        "TimeoutError: pool exhausted",
    ]
    railway.logs[previous] = [f"GET /v1/runs/{i} failed with 502" for i in range(3)]
    railway.logs[live] += [f"GET /v1/runs/{i} failed with 502" for i in range(3, 5)]
    incident = create_incident(
        container.uow,
        container.clock,
        Actor("t"),
        NewIncident(
            "API error rate spike",
            Severity.SEV2,
            service=SERVICE,
            detected_at=now - timedelta(minutes=10),
        ),
    )
    return incident.id


def test_context_gathers_the_runbook_phase3_facts(
    api: TestClient, container: Container, clock: FixedClock, railway: RailwayState
) -> None:
    incident_id = seed_world(api, container, clock, railway)
    answer = api.get(f"/v1/incidents/{incident_id}/context")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    diff = found["deployment_diff"]
    assert (diff["current"], diff["previous"], diff["deployed_by"]) == ("v1.4.2", "v1.4.1", "alice")
    assert diff["commits"] == ["aaa111", "bbb222"]
    assert diff["config_changed"] == {"BULK_EXECUTION": [False, True]}

    latest = {m["metric"]: m["latest"] for m in found["metrics"]}
    assert latest["error_rate"] == 12.0 and latest["db_pool_utilization"] == 100.0

    patterns = found["log_patterns"]["patterns"]
    first = patterns[0]
    assert first["new"] is True and first["count"] == 6
    assert first["template"].startswith("Connection timeout after <*>")
    old = next(p for p in patterns if "failed with 502" in p["template"])
    assert old["new"] is False and old["count"] == 2
    assert "TimeoutError: pool exhausted" in found["log_patterns"]["stack_traces"][0]

    rows = {r["symptom"]: r for r in found["symptoms"]}
    assert rows["5xx spike + pool at 100%"]["matched"] is True
    assert rows["5xx spike + pool at 100%"]["likely_cause"] == "Connection exhaustion"
    assert rows["Sudden outage"]["matched"] is True  # deployed 4 h before detection... within
    assert rows["Latency spike"]["matched"] is False
    assert found["unavailable"] == {}

    posted = api.post(f"/v1/incidents/{incident_id}/context/post")
    assert posted.status_code == 201, posted.text
    text = posted.json()["text"]
    assert "**Deployed**: v1.4.2 (previous v1.4.1) by alice" in text
    assert "config BULK_EXECUTION: False → True" in text
    assert "🆕 Connection timeout after <*>" in text
    assert "5xx spike + pool at 100% → Connection exhaustion" in text
    said = api.get(f"/v1/incidents/{incident_id}/messages").json()
    assert said[-1]["text"] == text


def test_context_names_what_is_unavailable(api: TestClient, container: Container) -> None:
    bare = open_incident(container, "Something", Severity.SEV3)
    found = api.get(f"/v1/incidents/{bare.id}/context").json()
    assert found["unavailable"] == {"service": "the incident names no service"}
    elsewhere = open_incident(container, "Other", Severity.SEV3, service="billing")
    found = api.get(f"/v1/incidents/{elsewhere.id}/context").json()
    assert "platform" in found["unavailable"]  # supervisord is not running here
    assert api.get("/v1/incidents/INC-20240115-9999/context").status_code == 404


def test_a_documented_hypothesis_in_the_runbook_format(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    incident = open_incident(container, "API error rate spike", Severity.SEV2, service=SERVICE)
    body = {
        "hypothesis": "Database connection pool exhaustion",
        "confidence": 0.85,
        "evidence": [
            "Connection pool at 100% utilization",
            'Errors: "Connection timeout after 5000ms"',
        ],
        "steps": [
            {"text": "Check connection pool configuration", "done": True},
            {"text": "Assess if pool can be increased"},
        ],
        "cause": "connection_exhaustion",
    }
    made = api.post(f"/v1/incidents/{incident.id}/hypotheses", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["markdown"] == (
        "**Hypothesis**: Database connection pool exhaustion\n**Confidence**: 85%\n"
        "**Evidence**:\n- Connection pool at 100% utilization\n"
        '- Errors: "Connection timeout after 5000ms"\n**Investigation steps**:\n'
        "1. Check connection pool configuration ✅\n2. Assess if pool can be increased 🔄"
    )
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    assert [e["kind"] for e in events].count("hypothesis.documented") == 1
    context = api.get(f"/v1/incidents/{incident.id}/context").json()
    assert context["hypotheses"][-1]["cause"] == "connection_exhaustion"
    first = context["mitigations"][0]
    assert (first["strategy"], first["risk"], first["needs_approval"]) == (
        "config_change",
        "low",
        False,
    )
    assert [m["label"] for m in context["mitigations"]][:2] == [
        "Configuration change",
        "Feature flag disable",
    ]
    bad = api.post(f"/v1/incidents/{incident.id}/hypotheses", json={**body, "confidence": 85})
    assert bad.status_code == 422 and "confidence" in bad.text
