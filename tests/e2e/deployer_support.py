"""Shared pieces for railway-deployer tests: Railway's API on httpx.MockTransport wired in as
the platform, and waiting for a run to finish."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.platform.railway import RailwayPlatform
from so1.adapters.platform.railway_client import RailwayClient
from so1.bootstrap import Container
from tests.contract.railway_server import ENVIRONMENT, PROJECT, TOKEN, RailwayState, railway_http

SERVICE, SERVICE_ID = "control-plane-api", "svc-cpa"
ROLLBACK_INPUTS = {"action": "rollback", "service": SERVICE, "target_version": "previous"}
SEED_ROLLBACK = {"agent": "railway-deployer", "inputs": ROLLBACK_INPUTS}


@pytest.fixture
def railway(container: Container) -> RailwayState:
    """Railway answering in process (httpx.MockTransport), wired in as the platform."""
    state = RailwayState()
    state.add(SERVICE_ID, commit="a1")
    state.add(SERVICE_ID, commit="b2")
    state.add(SERVICE_ID, status="FAILED", commit="c3", can_rollback=False)
    state.add(SERVICE_ID, commit="d4")
    client = RailwayClient(TOKEN, railway_http(state), sleep=lambda _: None)
    container.adapters.platform = RailwayPlatform(
        client, PROJECT, ENVIRONMENT, {SERVICE: SERVICE_ID}
    )
    return state


def finished(api: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.get(f"/v1/orchestrate/runs/{run_id}").json()
        if run["status"] in ("completed", "failed"):
            return run
        time.sleep(0.05)
    pytest.fail(f"run {run_id} did not finish")


def client_for(container: Container, token: str) -> TestClient:
    from so1.entrypoints.api.app import create_app

    client = TestClient(create_app(container), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client
