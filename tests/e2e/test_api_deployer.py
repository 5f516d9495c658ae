"""The railway-deployer through the public API, acting on a local server that speaks
Railway's GraphQL API: the seed's rollback call, approvals, refusals, progress and audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.severity import Severity
from tests.conftest import make_key, open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import (
    ROLLBACK_INPUTS,
    SEED_ROLLBACK,
    SERVICE,
    SERVICE_ID,
    client_for,
    finished,
)


def test_the_seed_rollback_call(api: TestClient, railway: RailwayState) -> None:
    started = api.post("/v1/orchestrate", json=SEED_ROLLBACK)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    run = finished(api, started.json()["run_id"])
    assert run["status"] == "completed", run
    plan, result = run["output"]["plan"], run["output"]["result"]
    assert plan["target"]["version"] == "b2" and plan["undo"]["target_version"] == "dep-4"
    assert result["deployment"]["status"] == "SUCCESS"
    assert result["deployment"]["version"] == "b2"
    assert "Listening on :8080" in result["logs"][-1]
    live = run["output"]["live"]  # kept while the deployment was followed
    assert live["status"] == "SUCCESS" and live["deployment"] == result["deployment"]["id"]
    assert any("Listening on :8080" in line for line in live["logs"])
    actions = [a["action"] for a in api.get("/v1/audit", params={"limit": 20}).json()]
    assert "platform.action.requested" in actions and "platform.action.done" in actions


def test_a_sev1_rollback_waits_for_someone_else_to_approve(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    incident = open_incident(container, "Outage", Severity.SEV1, service=SERVICE)
    body = {
        "agent": "railway-deployer",
        "inputs": {**ROLLBACK_INPUTS, "incident_id": incident.id},
    }
    run = api.post("/v1/orchestrate", json=body).json()
    assert run["status"] == "awaiting_approval"
    assert run["output"]["plan"]["approval_reason"] == "medium risk during a SEV1 needs an approval"
    assert not [c for c in railway.calls if c[0] == "deploymentRollback"]
    own = api.post(f"/v1/orchestrate/runs/{run['run_id']}/approve")
    assert own.status_code == 409 and "someone other" in own.text

    reader = client_for(container, make_key(container, Scope.READ, Scope.WRITE, name="viewer"))
    assert reader.post(f"/v1/orchestrate/runs/{run['run_id']}/approve").status_code == 403
    lead = client_for(container, make_key(container, Scope.WRITE, Scope.DEPLOY, name="lead"))
    approved = lead.post(f"/v1/orchestrate/runs/{run['run_id']}/approve")
    assert approved.status_code == 200, approved.text
    done = finished(api, run["run_id"])
    assert done["status"] == "completed" and done["output"]["approved_by"] == "lead"
    kinds = [e["kind"] for e in api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]]
    for kind in (
        "mitigation.awaiting_approval",
        "mitigation.approved",
        "mitigation.progress",
        "mitigation.finished",
    ):
        assert kind in kinds
    again = lead.post(f"/v1/orchestrate/runs/{run['run_id']}/approve")
    assert again.status_code == 409


def test_refusals_never_touch_the_platform(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    body = {
        "agent": "railway-deployer",
        "inputs": {"action": "rollback", "service": SERVICE, "target_version": "c3"},
    }
    run = api.post("/v1/orchestrate", json=body).json()
    assert run["status"] == "failed"
    assert "cannot be rolled back" in run["error"]
    bad = api.post(
        "/v1/orchestrate",
        json={"agent": "railway-deployer", "inputs": {"action": "explode", "service": SERVICE}},
    )
    assert bad.status_code == 422 and "inputs.action" in bad.text
    nobody = client_for(container, make_key(container, Scope.WRITE, name="writer"))
    assert nobody.post("/v1/orchestrate", json=SEED_ROLLBACK).status_code == 403
    unknown = api.post(
        "/v1/orchestrate",
        json={"agent": "railway-deployer", "inputs": {"action": "restart", "service": "x"}},
    )
    assert unknown.status_code == 404 and "SO1_RAILWAY_SERVICES" in unknown.text
    assert [c for c in railway.calls if c[0] not in ("deployments", "deployment")] == []


def test_the_seed_pool_change_and_a_decline(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    body = {
        "agent": "railway-deployer",
        "inputs": {
            "action": "set_variables",
            "service": SERVICE,
            "variables": {"DATABASE_POOL_SIZE": "50"},
        },
    }
    run = finished(api, api.post("/v1/orchestrate", json=body).json()["run_id"])
    assert run["status"] == "completed", run
    assert railway.variables[SERVICE_ID] == {"DATABASE_POOL_SIZE": "50"}
    assert run["output"]["plan"]["undo"] is None  # it was unset before

    incident = open_incident(container, "Outage", Severity.SEV0, service=SERVICE)
    restart = {
        "agent": "railway-deployer",
        "inputs": {"action": "restart", "service": SERVICE, "incident_id": incident.id},
    }
    waiting = api.post("/v1/orchestrate", json=restart).json()
    assert waiting["status"] == "awaiting_approval"
    declined = api.post(f"/v1/orchestrate/runs/{waiting['run_id']}/decline").json()
    assert declined["status"] == "failed" and declined["error"] == "declined by admin"
    assert not [c for c in railway.calls if c[0] == "deploymentRestart"]
