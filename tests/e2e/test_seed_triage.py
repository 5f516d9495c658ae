"""The runbook's worked example through the real triage-responder, end to end over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.entrypoints.api.app import create_app
from so1.services.triage.flow import process_pending

SEED_INPUTS = {
    "alert_id": "pd-alert-123",
    "alert_source": "pagerduty",
    "alert_data": {
        "service": "so1-control-plane-api",
        "metric": "error_rate",
        "current_value": "12%",
        "threshold": "< 1%",
    },
}


@pytest.fixture
def real_api(container: Container, admin_token: str) -> Iterator[TestClient]:
    container.settings.triage_worker = False
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


def seed_world(api: TestClient, clock: FixedClock) -> None:
    api.put("/v1/services/postgres", json={"tier": "critical", "owner_team": "platform-team"})
    api.put(
        "/v1/services/so1-control-plane-api",
        json={
            "tier": "critical",
            "owner_team": "platform-team",
            "users": 150,
            "dependencies": ["postgres"],
            "baselines": {"error_rate": "0.5%"},
        },
    )
    for version, hours in (("v2.13.2", 30), ("v2.14.0", 4)):
        api.post(
            "/v1/deployments",
            json={
                "service": "so1-control-plane-api",
                "version": version,
                "deployed_by": "dana",
                "deployed_at": (clock.now() - timedelta(hours=hours)).isoformat(),
            },
        )
    api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "dedup_key": "pool-1",
            "source": "datadog",
            "service": "so1-control-plane-api",
            "metric": "db_pool_utilization",
            "current_value": "100%",
            "threshold": "< 90%",
            "summary": "Connection pool at 100% (Connection timeout after 5000ms)",
        },
    )


def test_seed_example_is_sev2_connection_exhaustion_standard(
    real_api: TestClient, clock: FixedClock
) -> None:
    seed_world(real_api, clock)
    run = real_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": SEED_INPUTS}
    ).json()
    assert run["status"] == "completed", run
    report = run["output"]
    assert set(report) == {  # DESIGN §3's report, exactly (plus rationale, similar incidents)
        *("severity", "confidence", "classification", "impact", "hypotheses", "escalation"),
        *("status", "incident_id", "rationale", "similar_incidents"),
    }
    assert set(report["impact"]) == {"users_affected", "services"}
    assert {k for h in report["hypotheses"] for k in h} == {
        *("cause", "confidence", "evidence", "investigation_steps"),
    }
    assert report["severity"] == "SEV2"
    assert report["classification"] == "incident"
    assert report["escalation"] == "standard"
    assert report["confidence"] >= 0.70
    assert report["hypotheses"][0]["cause"] == "connection_exhaustion"
    assert any("v2.14.0" in e for h in report["hypotheses"] for e in h["evidence"])
    incident = real_api.get(f"/v1/incidents/{report['incident_id']}").json()
    assert incident["severity"] == "SEV2"
    assert incident["service"] == "so1-control-plane-api"
    stored = real_api.get(f"/v1/orchestrate/runs/{run['run_id']}").json()
    assert stored["output"]["incident_id"] == report["incident_id"]
    again = real_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": SEED_INPUTS}
    ).json()
    assert again["output"]["incident_id"] == report["incident_id"]
    assert real_api.get("/v1/incidents").json()["total"] == 1


def test_worker_path_gives_the_same_decision(
    real_api: TestClient, container: Container, clock: FixedClock
) -> None:
    seed_world(real_api, clock)
    real_api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "dedup_key": "pd-alert-123",
            "source": "pagerduty",
            **SEED_INPUTS["alert_data"],  # type: ignore[dict-item]
            "summary": "API error rate 12%",
        },
    )
    process_pending(container.uow, container.clock, container.triage_agent)
    incidents = real_api.get("/v1/incidents").json()
    assert incidents["total"] == 1
    assert incidents["items"][0]["severity"] in ("SEV2", "SEV1")
    alerts = real_api.get("/v1/alerts").json()["items"]
    assert {a["incident_id"] for a in alerts} == {incidents["items"][0]["id"]}


def test_on_a_fresh_server_the_seed_example_leads_with_the_runbooks_first_pattern(
    real_api: TestClient,
) -> None:
    """What a new user sees: the README's server, an empty catalog, the seed's own curl. The
    runbook's table puts a 5xx spike first, under connection exhaustion; without the pool's
    figures that lead is weak, but it leads, and the report is sure enough to go on."""
    run = real_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": SEED_INPUTS}
    ).json()
    report = run["output"]
    assert (report["severity"], report["escalation"]) == ("SEV2", "standard")
    assert report["hypotheses"][0]["cause"] == "connection_exhaustion"
    assert report["hypotheses"][0]["confidence"] < 0.6  # a lead, not a finding
    assert any("pool" in step for step in report["hypotheses"][0]["investigation_steps"])
    assert report["confidence"] >= 0.70
    assert report["status"] == "completed"
    assert "confidence -0.10: so1-control-plane-api is not in the catalog" in report["rationale"]


def test_an_error_count_of_a_job_host_does_not_lead_with_the_pool(real_api: TestClient) -> None:
    inputs = {
        "alert_id": "cron-1",
        "alert_source": "datadog",
        "alert_data": {
            "service": "legacy-cron-host",
            "metric": "error_count",
            "current_value": "14",
            "threshold": "< 10",
        },
    }
    run = real_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": inputs}
    ).json()
    assert run["output"]["hypotheses"][0]["cause"] == "unknown"
