"""A rollout SO1 makes is a deployment like any other: listed by GET /v1/deployments/recent
with the platform's id, the key that acted and the config it set (Railway in process)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.severity import Severity
from tests.conftest import open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import SEED_ROLLBACK, SERVICE, finished


def test_the_pool_change_and_a_rollback_are_listed_as_deployments(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    before = {
        "service": SERVICE,
        "version": "d4",
        "deployed_by": "dana",
        "config": {"DATABASE_POOL_SIZE": "20", "LOG_LEVEL": "info"},
    }
    assert api.post("/v1/deployments", json=before).status_code == 201
    incident = open_incident(container, "Pool exhausted", Severity.SEV2, service=SERVICE)
    inputs = {
        "action": "set_variables",
        "service": SERVICE,
        "incident_id": incident.id,
        "variables": {"DATABASE_POOL_SIZE": "50"},
    }
    body = {"agent": "railway-deployer", "inputs": inputs}
    run = finished(api, api.post("/v1/orchestrate", json=body).json()["run_id"])
    assert run["status"] == "completed", run
    rollout = run["output"]["result"]["deployment"]

    recent = api.get("/v1/deployments/recent", params={"service": SERVICE}).json()
    newest, oldest = recent["deployments"]
    assert (newest["platform_deployment_id"], newest["platform"]) == (rollout["id"], "railway")
    assert newest["deployed_by"] == "admin" and newest["status"] == "succeeded"
    assert newest["config"] == {"DATABASE_POOL_SIZE": "50", "LOG_LEVEL": "info"}
    assert newest["previous_version"] == "d4" == oldest["version"]
    assert run["run_id"] in newest["notes"] and incident.id in newest["notes"]

    rolled_back = finished(api, api.post("/v1/orchestrate", json=SEED_ROLLBACK).json()["run_id"])
    assert rolled_back["status"] == "completed", rolled_back
    listed = api.get("/v1/deployments/recent", params={"service": SERVICE}).json()
    went_back = rolled_back["output"]["result"]["deployment"]
    assert len(listed["deployments"]) == 3
    assert listed["deployments"][0]["platform_deployment_id"] == went_back["id"]
    assert listed["deployments"][0]["version"] == went_back["version"]
    assert listed["deployments"][0]["config"] == {}  # SO1 never recorded what d4 ran with


def test_a_change_that_rolls_nothing_out_records_no_deployment(
    api: TestClient, railway: RailwayState
) -> None:
    inputs = {
        "action": "set_variables",
        "service": SERVICE,
        "variables": {"FEATURE_X": "on"},
        "apply": False,
    }
    run = finished(
        api,
        api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": inputs}).json()[
            "run_id"
        ],
    )
    assert run["status"] == "completed", run
    assert api.get("/v1/deployments/recent").json()["deployments"] == []
