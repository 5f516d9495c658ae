"""Feature flags for real: an application using the OpenFeature SDK's OFREP provider sees a
flip on its next evaluation, and a flip during an incident lands on its timeline."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from openfeature import api as openfeature
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from tests.e2e.deployer_support import finished

FLAG = "bulk-execution"


def openfeature_client(base_url: str, token: str, domain: str) -> OpenFeatureClient:
    provider = OFREPProvider(base_url, headers_factory=lambda: {"Authorization": f"Bearer {token}"})
    openfeature.set_provider(provider, domain=domain)
    return openfeature.get_client(domain=domain)


@pytest.fixture
def app_client(live_server: str, admin_token: str) -> Iterator[OpenFeatureClient]:
    yield openfeature_client(live_server, admin_token, "so1-app")
    openfeature.clear_providers()


def test_an_openfeature_client_sees_a_flip_on_its_next_evaluation(
    api: TestClient, app_client: OpenFeatureClient
) -> None:
    api.put(f"/v1/feature-flags/{FLAG}", json={"enabled": True, "service": "control-plane-api"})
    assert app_client.get_boolean_value(FLAG, False) is True
    flipped = api.patch(f"/v1/feature-flags/{FLAG}", json={"enabled": False, "reason": "pool"})
    assert flipped.status_code == 200, flipped.text
    details = app_client.get_boolean_details(FLAG, True, EvaluationContext("user-1"))
    assert details.value is False
    assert details.variant == "off"
    assert details.error_code is None

    missing = app_client.get_boolean_details("no-such-flag", True)
    assert missing.value is True  # the application's default
    assert missing.error_code == ErrorCode.FLAG_NOT_FOUND


def test_a_key_without_access_gets_the_default(live_server: str) -> None:
    client = openfeature_client(live_server, "so1_wrong_key", "so1-stranger")
    try:
        details = client.get_boolean_details(FLAG, True)
    finally:
        openfeature.clear_providers()
    assert details.value is True
    assert details.error_code is not None


def test_ofrep_answers_and_errors(api: TestClient) -> None:
    api.put(f"/v1/feature-flags/{FLAG}", json={"enabled": True})
    api.put("/v1/feature-flags/dark-mode", json={"enabled": False, "service": "web"})
    one = api.post(f"/ofrep/v1/evaluate/flags/{FLAG}", json={"context": {"targetingKey": "u"}})
    assert one.status_code == 200
    assert one.json() | {"metadata": None} == {
        "key": FLAG,
        "value": True,
        "reason": "STATIC",
        "variant": "on",
        "metadata": None,
        "cacheable": False,
    }
    assert api.post(f"/ofrep/v1/evaluate/flags/{FLAG}").json()["value"] is True  # no body

    garbled = api.post(f"/ofrep/v1/evaluate/flags/{FLAG}", content=b"{nope")
    assert garbled.status_code == 400
    assert garbled.json()["errorCode"] == "PARSE_ERROR"
    assert garbled.json()["key"] == FLAG
    wrong = api.post(f"/ofrep/v1/evaluate/flags/{FLAG}", json={"context": [1]})
    assert (wrong.status_code, wrong.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    assert "'context' must be a JSON object" in wrong.json()["errorDetails"]
    missing = api.post("/ofrep/v1/evaluate/flags/nope", json={})
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "FLAG_NOT_FOUND")

    bulk = api.post("/ofrep/v1/evaluate/flags", json={"context": {}})
    assert {f["key"]: f["value"] for f in bulk.json()["flags"]} == {FLAG: True, "dark-mode": False}
    tag = bulk.headers["ETag"]
    unchanged = api.post("/ofrep/v1/evaluate/flags", json={}, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    api.patch("/v1/feature-flags/dark-mode", json={"enabled": True})
    changed = api.post("/ofrep/v1/evaluate/flags", json={}, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    bad_bulk = api.post("/ofrep/v1/evaluate/flags", json=["x"])
    assert (bad_bulk.status_code, bad_bulk.json()["errorCode"]) == (400, "INVALID_CONTEXT")

    config = api.get("/ofrep/v1/configuration").json()
    assert config["capabilities"]["flagEvaluation"]["supportedTypes"] == ["boolean"]


def test_ofrep_needs_a_key(anon: TestClient) -> None:
    assert anon.post(f"/ofrep/v1/evaluate/flags/{FLAG}", json={}).status_code == 401


def test_a_flip_lands_on_the_timelines_of_the_incidents_it_touches(
    api: TestClient, container: Container
) -> None:
    actor = Actor("test")
    on_service = create_incident(
        container.uow,
        container.clock,
        actor,
        NewIncident("Errors", Severity.SEV2, service="control-plane-api"),
    )
    elsewhere = create_incident(
        container.uow, container.clock, actor, NewIncident("Other", Severity.SEV3, service="web")
    )
    api.put(f"/v1/feature-flags/{FLAG}", json={"enabled": True, "service": "control-plane-api"})
    body = {"enabled": False, "reason": "pool exhaustion"}
    assert api.patch(f"/v1/feature-flags/{FLAG}", json=body).status_code == 200

    def flips(incident_id: str) -> list[dict[str, object]]:
        events = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
        return [e for e in events if e["kind"] == "flag.flipped"]

    [flip] = flips(on_service.id)
    assert "bulk-execution turned off" in str(flip["summary"])
    assert "pool exhaustion" in str(flip["summary"])
    assert flips(elsewhere.id) == []

    named = {"enabled": True, "incident_id": elsewhere.id}
    assert api.patch(f"/v1/feature-flags/{FLAG}", json=named).status_code == 200
    assert len(flips(elsewhere.id)) == 1
    assert len(flips(on_service.id)) == 1  # an explicit incident only
    unknown = api.patch(f"/v1/feature-flags/{FLAG}", json={"enabled": False, "incident_id": "x"})
    assert unknown.status_code == 404
    assert api.get(f"/v1/feature-flags/{FLAG}").json()["enabled"] is True  # nothing changed


def test_raw_ofrep_over_http(live_server: str, admin_token: str, api: TestClient) -> None:
    api.put(f"/v1/feature-flags/{FLAG}", json={"enabled": False})
    answer = httpx.post(
        f"{live_server}/ofrep/v1/evaluate/flags/{FLAG}",
        json={"context": {"targetingKey": "x"}},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert answer.json()["variant"] == "off"


def test_a_flag_disable_mitigation_turns_the_feature_off_and_its_undo_back_on(
    api: TestClient, container: Container, app_client: OpenFeatureClient
) -> None:
    service = "control-plane-api"
    api.put(f"/v1/feature-flags/{FLAG}", json={"enabled": True, "service": service})
    incident = create_incident(
        container.uow,
        container.clock,
        Actor("t"),
        NewIncident("Connection pool exhausted", Severity.SEV2, service=service),
    )
    inputs = {"action": "flag_disable", "service": service, "flag": FLAG}
    body = {"agent": "railway-deployer", "inputs": inputs | {"incident_id": incident.id}}
    run = finished(api, api.post("/v1/orchestrate", json=body).json()["run_id"])
    assert run["status"] == "completed", run
    assert run["output"]["result"] == {"flag": {"key": FLAG, "served": False}}
    assert app_client.get_boolean_value(FLAG, True) is False
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    flipped = [e for e in events if e["kind"] == "flag.flipped"]
    assert [e["data"]["reason"] for e in flipped] == [
        f"mitigation {run['run_id']} for {incident.id}"
    ]
    assert "mitigation.finished" in [e["kind"] for e in events]

    again = api.post("/v1/orchestrate", json=body).json()
    assert again["status"] == "failed" and again["error"] == f"'{FLAG}' is off"

    undo = run["output"]["plan"]["undo"] | {"service": service, "incident_id": incident.id}
    back = api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": undo})
    assert finished(api, back.json()["run_id"])["status"] == "completed"
    assert app_client.get_boolean_value(FLAG, False) is True

    nameless = api.post(
        "/v1/orchestrate", json={"agent": "railway-deployer", "inputs": inputs | {"flag": ""}}
    )
    assert nameless.status_code == 422 and "'flag' names the feature flag" in nameless.text
