"""Edge behaviour: problem JSON, body cap, JSON sent as a form, idempotency, orchestration."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.entrypoints.api.app import create_app

INCIDENT = {"title": "API error rate spike", "severity": "SEV2"}


def test_json_sent_without_content_type_is_accepted(api: TestClient) -> None:
    # `curl -d '{...}'` as in the runbook sends application/x-www-form-urlencoded.
    response = api.post(
        "/v1/incidents",
        content=b'{"title": "x", "severity": "SEV3"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"title": ', 400, None),
        (b"[1, 2]", 422, "body"),
        (b'{"title": "x", "severity": "SEV9"}', 422, "body.severity"),
        (b'{"title": "x", "severity": "SEV2", "bogus": 1}', 422, "body.bogus"),
        (b'{"severity": "SEV2"}', 422, "body.title"),
        (b'{"title": "", "severity": "SEV2"}', 422, "body.title"),
        (
            b'{"title": "x", "severity": "SEV2", "detected_at": "yesterday"}',
            422,
            "body.detected_at",
        ),
        (
            b'{"title": "x", "severity": "SEV2", "detected_at": "2099-01-01T00:00:00Z"}',
            422,
            "detected_at",
        ),
        (b'{"title": "x", "severity": "SEV2", "status": "closed"}', 422, "body.status"),
        (b'{"title": "lone \\ud800 surrogate", "severity": "SEV2"}', 422, "body"),
        (b'{"title": "x", "severity": "SEV2", "impact": {"k": "nul \\u0000"}}', 422, "body"),
    ],
)
def test_bad_bodies_are_named_4xx(
    api: TestClient, body: bytes, status: int, field: str | None
) -> None:
    response = api.post("/v1/incidents", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    if field:
        assert field in [e["field"] for e in problem["errors"]]


def test_body_over_cap_is_413(api: TestClient, container: Container) -> None:
    big = b'{"title": "' + b"a" * container.settings.max_body_bytes + b'", "severity": "SEV2"}'
    response = api.post("/v1/incidents", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["title"] == "Payload too large"


def test_unknown_route_and_method_are_problems(api: TestClient) -> None:
    assert api.get("/v1/nothing-here").json()["status"] == 404
    assert api.delete("/v1/incidents").status_code == 405


def test_idempotency_key_replays_and_refuses_other_body(api: TestClient) -> None:
    headers = {"Idempotency-Key": "declare-123"}
    first = api.post("/v1/incidents", json=INCIDENT, headers=headers)
    again = api.post("/v1/incidents", json=INCIDENT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert api.get("/v1/incidents").json()["total"] == 1
    other = api.post("/v1/incidents", json={**INCIDENT, "title": "else"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    fresh = api.post("/v1/incidents", json=INCIDENT, headers={"Idempotency-Key": "declare-124"})
    assert fresh.json()["id"] != first.json()["id"]


def test_idempotency_does_not_store_auth_failures(anon: TestClient, api: TestClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert anon.post("/v1/incidents", json=INCIDENT, headers=headers).status_code == 401
    assert api.post("/v1/incidents", json=INCIDENT, headers=headers).status_code == 201


class EchoAgent:
    name = "echo"

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {"echo": dict(inputs)}


class BrokenAgent:
    name = "broken"

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        raise RuntimeError(f"cannot handle {sorted(inputs)}")


@pytest.fixture
def agent_api(container: Container, admin_token: str) -> Iterator[TestClient]:
    container.agents, container.triage = {"echo": EchoAgent(), "broken": BrokenAgent()}, None
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


def test_orchestrate_dispatches_by_name(agent_api: TestClient) -> None:
    inputs = {"incident_id": "INC-20240115-0042", "severity": "SEV2"}
    run = agent_api.post("/v1/orchestrate", json={"agent": "echo", "inputs": inputs}).json()
    assert (run["status"], run["output"], run["incident_id"]) == (
        "completed",
        {"echo": inputs},
        "INC-20240115-0042",
    )
    stored = agent_api.get(f"/v1/orchestrate/runs/{run['run_id']}").json()
    assert stored == run


def test_failing_agent_is_failed_run_not_500(agent_api: TestClient) -> None:
    response = agent_api.post("/v1/orchestrate", json={"agent": "broken", "inputs": {"a": 1}})
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"] == "RuntimeError: cannot handle ['a']"


def test_unknown_agent_lists_known(agent_api: TestClient) -> None:
    response = agent_api.post("/v1/orchestrate", json={"agent": "triage-responder", "inputs": {}})
    assert response.status_code == 404
    assert response.json()["known_agents"] == ["broken", "echo"]
    assert agent_api.get("/v1/orchestrate/runs/run_nothing").status_code == 404
