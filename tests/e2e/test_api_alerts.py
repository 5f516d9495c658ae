"""The generic events API and the triage pipeline behind it (with a scripted agent; the real
triage-responder has its own tests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from tests.e2e.intake_support import SEED_ALERT, run_pipeline


def test_trigger_is_stored_then_triaged_into_an_incident(
    alerts_api: TestClient, container: Container
) -> None:
    response = alerts_api.post("/v1/alerts", json=SEED_ALERT)
    assert response.status_code == 202
    body = response.json()
    assert body["dedup_key"] == "pd-alert-123"
    assert body["status"] == "firing"
    assert body["outcome"] == "created"
    assert run_pipeline(container) == 1
    alert = alerts_api.get(f"/v1/alerts/{body['alert_id']}").json()
    assert alert["incident_id"] == "INC-20240115-0001"
    assert alert["labels"]["origin"] == "pagerduty"
    incident = alerts_api.get("/v1/incidents/INC-20240115-0001").json()
    assert incident["severity"] == "SEV2"
    assert incident["impact"]["users_affected"] == 150
    events = alerts_api.get("/v1/incidents/INC-20240115-0001/timeline").json()["events"]
    report = next(e for e in events if e["kind"] == "triage.report")
    assert report["data"]["hypotheses"][0]["cause"] == "connection_exhaustion"
    assert run_pipeline(container) == 0


def test_duplicates_are_counted_not_triaged_twice(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    first = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
    clock.advance(timedelta(seconds=30))
    again = alerts_api.post("/v1/alerts", json={**SEED_ALERT, "current_value": "14%"}).json()
    assert again["alert_id"] == first["alert_id"]
    assert (again["outcome"], again["dedup_count"]) == ("duplicate", 2)
    assert run_pipeline(container) == 1
    stored = alerts_api.get(f"/v1/alerts/{first['alert_id']}").json()
    assert stored["current_value"] == "14%"
    assert stored["last_seen_at"] == "2024-01-15T14:45:30Z"


def test_acknowledge_and_resolve_by_dedup_key(alerts_api: TestClient, clock: FixedClock) -> None:
    created = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
    clock.advance(timedelta(seconds=90))
    ack = alerts_api.post(
        "/v1/alerts",
        json={"event_action": "acknowledge", "dedup_key": "pd-alert-123", "source": "pagerduty"},
    )
    assert ack.json()["status"] == "acknowledged"
    resolved = alerts_api.post(
        "/v1/alerts",
        json={"event_action": "resolve", "dedup_key": "pd-alert-123", "source": "pagerduty"},
    )
    assert resolved.json()["status"] == "resolved"
    stored = alerts_api.get(f"/v1/alerts/{created['alert_id']}").json()
    assert stored["acknowledged_at"] == "2024-01-15T14:46:30Z"
    again = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
    assert again["alert_id"] != created["alert_id"]  # a resolved alert is never reopened
    dropped = alerts_api.post(
        "/v1/alerts", json={"event_action": "resolve", "dedup_key": "nope", "source": "x"}
    )
    assert dropped.status_code == 202
    assert dropped.json()["status"] == "dropped"


def test_acknowledge_endpoint_measures_against_two_minutes(
    alerts_api: TestClient, clock: FixedClock
) -> None:
    created = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
    clock.advance(timedelta(minutes=3))
    acked = alerts_api.post(f"/v1/alerts/{created['alert_id']}/acknowledge")
    assert acked.json()["status"] == "acknowledged"
    audit = alerts_api.get("/v1/audit?action=alert.acknowledge").json()
    assert audit[0]["detail"] == {"seconds_to_acknowledge": 180.0, "within_target": False}
    assert alerts_api.post("/v1/alerts/alt_nothing/acknowledge").status_code == 404


def test_ticket_and_close_decisions(alerts_api: TestClient, container: Container) -> None:
    cosmetic = alerts_api.post(
        "/v1/alerts", json={**SEED_ALERT, "dedup_key": "c", "metric": "cosmetic"}
    ).json()
    test = alerts_api.post(
        "/v1/alerts", json={**SEED_ALERT, "dedup_key": "t", "metric": "test"}
    ).json()
    run_pipeline(container)
    closed = alerts_api.get(f"/v1/alerts/{test['alert_id']}").json()
    assert (closed["status"], closed["closed_reason"]) == ("resolved", "test notification")
    ticketed = alerts_api.get(f"/v1/alerts/{cosmetic['alert_id']}").json()
    assert ticketed["incident_id"] is None
    assert alerts_api.get("/v1/incidents").json()["total"] == 0


def test_failing_agent_leaves_a_failed_run_and_the_alert_open(
    alerts_api: TestClient, container: Container
) -> None:
    created = alerts_api.post("/v1/alerts", json={**SEED_ALERT, "metric": "broken"}).json()
    assert run_pipeline(container) == 1
    assert alerts_api.get(f"/v1/alerts/{created['alert_id']}").json()["status"] == "firing"


def test_twelve_related_alerts_in_two_minutes_make_one_incident(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    alerts_api.put("/v1/services/postgres", json={"tier": "critical"})
    alerts_api.put(
        "/v1/services/control-plane-api", json={"tier": "critical", "dependencies": ["postgres"]}
    )
    for n in range(12):
        service = "postgres" if n % 3 == 0 else "control-plane-api"
        alert = {
            **SEED_ALERT,
            "dedup_key": f"storm-{n}",
            "service": service,
            "summary": f"symptom {n}",
        }
        assert alerts_api.post("/v1/alerts", json=alert).status_code == 202
        clock.advance(timedelta(seconds=10))
        if n == 5:
            run_pipeline(container)  # triage runs while the storm is still arriving
    run_pipeline(container)
    incidents = alerts_api.get("/v1/incidents").json()
    assert incidents["total"] == 1
    incident = incidents["items"][0]
    assert incident["storm"] is True
    linked = alerts_api.get("/v1/alerts", params={"incident_id": incident["id"]}).json()
    assert linked["total"] == 12


def test_unrelated_service_gets_its_own_incident(
    alerts_api: TestClient, container: Container
) -> None:
    alerts_api.post("/v1/alerts", json=SEED_ALERT)
    alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": "other", "service": "billing"})
    run_pipeline(container)
    assert alerts_api.get("/v1/incidents").json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_action": "trigger", "source": "x"}, "body"),
        ({"event_action": "resolve", "source": "x"}, "body"),
        ({"event_action": "explode", "source": "x", "summary": "s"}, "body.event_action"),
        ({"event_action": "trigger", "summary": "s"}, "body.source"),
        ({**SEED_ALERT, "severity": "sev1"}, "body.severity"),
        ({**SEED_ALERT, "dedup_key": "k" * 256}, "body.dedup_key"),
        ({**SEED_ALERT, "timestamp": "yesterday"}, "body.timestamp"),
    ],
)
def test_bad_events_are_422_naming_the_field(
    alerts_api: TestClient, body: dict[str, Any], field: str
) -> None:
    response = alerts_api.post("/v1/alerts", json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_list_filters(alerts_api: TestClient) -> None:
    alerts_api.post("/v1/alerts", json=SEED_ALERT)
    alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": "b", "service": "billing"})
    assert alerts_api.get("/v1/alerts?service=billing").json()["total"] == 1
    assert alerts_api.get("/v1/alerts?status=firing,acknowledged").json()["total"] == 2
    assert alerts_api.get("/v1/alerts?status=burning").status_code == 422


def test_old_sender_time_keeps_first_seen_but_not_last_seen(
    alerts_api: TestClient, clock: FixedClock
) -> None:
    # Alertmanager repeats the original startsAt on every notification of a firing alert.
    old = {**SEED_ALERT, "timestamp": "2024-01-15T14:15:00Z"}
    created = alerts_api.post("/v1/alerts", json=old).json()
    clock.advance(timedelta(minutes=10))
    alerts_api.post("/v1/alerts", json=old)
    stored = alerts_api.get(f"/v1/alerts/{created['alert_id']}").json()
    assert stored["first_seen_at"] == "2024-01-15T14:15:00Z"
    assert stored["last_seen_at"] == "2024-01-15T14:55:00Z"
