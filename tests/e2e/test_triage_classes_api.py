"""The triage classes of issue 14's second pass, through ``POST /v1/orchestrate`` with the real
triage-responder and a real database (SQLite and PostgreSQL): a feature down with a fallback is
the table's SEV3 row, a feature down in one region is degraded, and a crossed threshold on a
metric that does not measure users, with nothing said, is a minor issue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.entrypoints.api.app import create_app


@pytest.fixture
def api(container: Container, admin_token: str) -> Iterator[TestClient]:
    container.settings.triage_worker = False
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        for name, tier in (
            ("otp-sender", "medium"),
            ("checkout", "critical"),
            ("billing", "critical"),
        ):
            client.put(f"/v1/services/{name}", json={"tier": tier, "owner_team": "payments"})
        yield client


def _orchestrate(api: TestClient, alert_id: str, data: dict[str, Any]) -> dict[str, Any]:
    inputs = {"alert_id": alert_id, "alert_source": "pagerduty", "alert_data": data}
    run = api.post("/v1/orchestrate", json={"agent": "triage-responder", "inputs": inputs})
    assert run.status_code == 200, run.text
    report: dict[str, Any] = run.json()["output"]
    return report


def test_a_feature_down_with_a_fallback_is_sev3(api: TestClient) -> None:
    report = _orchestrate(
        api,
        "otp-1",
        {
            "service": "otp-sender",
            "summary": "SMS provider returns 503 for every one-time-code SMS",
            "custom_details": {"fallback": "codes by e-mail and push still go out"},
        },
    )
    assert report["severity"] == "SEV3"
    assert report["rationale"][0].startswith("impact class workaround")
    assert "fallback=codes by e-mail" in report["rationale"][0]
    incident = api.get(f"/v1/incidents/{report['incident_id']}").json()
    assert incident["severity"] == "SEV3"


def test_a_feature_down_in_one_region_is_sev2(api: TestClient) -> None:
    report = _orchestrate(
        api,
        "co-1",
        {
            "service": "checkout",
            "metric": "checkout_success",
            "current_value": "0%",
            "threshold": ">= 98%",
            "summary": "checkout in us-east failing; eu and ap regions healthy",
        },
    )
    assert report["severity"] == "SEV2"
    assert any(line.startswith("move limited to one part") for line in report["rationale"])


def test_a_custom_check_with_nothing_said_is_sev3(api: TestClient) -> None:
    data = {"service": "billing", "metric": "custom.check", "current_value": "1", "threshold": "0"}
    report = _orchestrate(api, "cc-1", data)
    assert report["severity"] == "SEV3"
    assert report["rationale"][0].startswith("impact class minor")
