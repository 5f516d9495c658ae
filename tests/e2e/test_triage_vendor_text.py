"""Vendor text reaches triage over every HTTP intake path, end to end with the real
triage-responder and a real database (issue 14): the seed's orchestrate request, the generic
events API and a signed vendor webhook. Each alert says "data loss" only in a field other
than its summary; the incident it opens must be SEV0 and its report must quote that field."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.entrypoints.api.app import create_app
from so1.services.triage.flow import process_pending
from tests.contract import payload
from tests.e2e.test_webhooks import add

PHRASE = "Customer balances overwritten by a bad backfill"


@pytest.fixture
def real_api(container: Container, admin_token: str) -> Iterator[TestClient]:
    container.settings.triage_worker = False  # the test drives the worker
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        client.put("/v1/services/ledger", json={"tier": "critical", "owner_team": "payments"})
        yield client


def _report(api: TestClient, incident_id: str) -> dict[str, Any]:
    events = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    reports: list[dict[str, Any]] = [e["data"] for e in events if e["kind"] == "triage.report"]
    assert len(reports) == 1
    return reports[0]


def test_orchestrate_reads_the_message_field_and_keeps_unknown_keys(real_api: TestClient) -> None:
    inputs = {
        "alert_id": "ledger-1",
        "alert_source": "grafana",
        "alert_data": {
            "service": "ledger",
            "metric": "errors",
            "current_value": "40",
            "threshold": "0",
            "message": PHRASE,
            "runbook_hint": "see the backfill job",
        },
    }
    run = real_api.post("/v1/orchestrate", json={"agent": "triage-responder", "inputs": inputs})
    assert run.status_code == 200, run.text
    report = run.json()["output"]
    assert report["severity"] == "SEV0"
    assert report["rationale"][0].startswith("impact class data_loss")
    assert PHRASE in report["rationale"][0]
    assert any(
        line.startswith('threshold: threshold "0" has no operator') for line in report["rationale"]
    )
    [alert] = real_api.get("/v1/alerts").json()["items"]
    assert alert["details"] == {"message": PHRASE, "runbook_hint": "see the backfill job"}
    assert real_api.get(f"/v1/incidents/{report['incident_id']}").json()["severity"] == "SEV0"


def test_bad_orchestrate_inputs_are_a_422_naming_the_field(real_api: TestClient) -> None:
    inputs = {"alert_id": "x", "alert_data": {"service": "ledger", "severity_hint": "urgent"}}
    response = real_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": inputs}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "inputs.alert_data.severity_hint"


def test_generic_event_details_reach_triage(real_api: TestClient, container: Container) -> None:
    event = {
        "event_action": "trigger",
        "source": "cron",
        "service": "ledger",
        "summary": "Nightly ledger job finished with warnings",
        "details": {"job": {"log": f"step 3: {PHRASE}"}},
    }
    assert real_api.post("/v1/alerts", json=event).status_code == 202
    process_pending(container.uow, container.clock, container.triage_agent)
    [incident] = real_api.get("/v1/incidents").json()["items"]
    assert incident["severity"] == "SEV0"
    assert f"job.log=step 3: {PHRASE}" in _report(real_api, incident["id"])["rationale"][0]


def test_sentry_event_message_reaches_triage(real_api: TestClient, container: Container) -> None:
    secret = add(container, AlertSource.SENTRY, "sentry-client-secret")
    document = json.loads(payload("sentry/02-event-alert-triggered.json"))
    document["data"]["event"]["message"] = PHRASE
    body = json.dumps(document).encode()
    headers = {
        "Sentry-Hook-Resource": "event_alert",
        "Sentry-Hook-Timestamp": str(int(container.clock.now().timestamp())),
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    assert real_api.post("/v1/webhooks/sentry", content=body, headers=headers).status_code == 202
    process_pending(container.uow, container.clock, container.triage_agent)
    [incident] = real_api.get("/v1/incidents").json()["items"]
    assert incident["severity"] == "SEV0"
    assert f"message={PHRASE}" in _report(real_api, incident["id"])["rationale"][0]
