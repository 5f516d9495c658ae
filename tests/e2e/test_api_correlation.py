"""Correlation rules with dry runs, and silences that suppress paging but keep the alert."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from tests.e2e.intake_support import SEED_ALERT, run_pipeline


def test_default_rule_and_saving_one(alerts_api: TestClient) -> None:
    rules = alerts_api.get("/v1/correlation-rules").json()
    assert rules == [
        {
            "name": "default",
            "group_by": ["service"],
            "follow_dependencies": True,
            "window_seconds": 600,
            "storm_threshold": 10,
            "enabled": True,
        }
    ]
    saved = alerts_api.put(
        "/v1/correlation-rules/default", json={"window_seconds": 120, "storm_threshold": 5}
    )
    assert saved.status_code == 200
    assert alerts_api.get("/v1/correlation-rules").json()[0]["window_seconds"] == 120
    bad = alerts_api.put("/v1/correlation-rules/x", json={"group_by": ["colour"]})
    assert bad.status_code == 422
    assert "colour" in bad.json()["detail"]


def test_dry_run_shows_groups_without_changing_anything(
    alerts_api: TestClient, clock: FixedClock
) -> None:
    alerts_api.put("/v1/services/postgres", json={"tier": "critical"})
    alerts_api.put("/v1/services/api", json={"tier": "critical", "dependencies": ["postgres"]})
    for n, service in enumerate(["api", "postgres", "api", "billing"]):
        alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": f"k{n}", "service": service})
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(minutes=30))
    alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": "late", "service": "api"})
    result = alerts_api.post("/v1/correlation-rules/default/dry-run?hours=2").json()
    assert result["alerts_considered"] == 5
    sizes = sorted(len(g["alert_ids"]) for g in result["groups"])
    assert sizes == [1, 1, 3]
    narrow = alerts_api.post(
        "/v1/correlation-rules/default/dry-run?hours=2", json={"follow_dependencies": False}
    ).json()
    assert sorted(len(g["alert_ids"]) for g in narrow["groups"]) == [1, 1, 1, 2]
    assert alerts_api.get("/v1/incidents").json()["total"] == 0
    assert alerts_api.post("/v1/correlation-rules/nope/dry-run").status_code == 404


def test_silence_suppresses_but_keeps_the_alert(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    created = alerts_api.post(
        "/v1/silences",
        json={
            "matchers": {"service": "control-plane-api"},
            "duration_minutes": 60,
            "reason": "db upgrade",
        },
    )
    assert created.status_code == 201
    assert created.json()["active"] is True
    alert = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
    assert alert["status"] == "suppressed"
    run_pipeline(container)
    assert alerts_api.get("/v1/incidents").json()["total"] == 0
    assert alerts_api.get(f"/v1/alerts/{alert['alert_id']}").json()["status"] == "suppressed"
    other = alerts_api.post(
        "/v1/alerts", json={**SEED_ALERT, "dedup_key": "x", "service": "billing"}
    ).json()
    assert other["status"] == "firing"
    assert alerts_api.delete(f"/v1/silences/{created.json()['id']}").status_code == 204
    assert alerts_api.delete(f"/v1/silences/{created.json()['id']}").status_code == 404
    clock.advance(timedelta(minutes=1))
    after = alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": "y"}).json()
    assert after["status"] == "firing"
    listed = alerts_api.get("/v1/silences").json()
    assert [s["active"] for s in listed] == [False]


def test_silence_validation(alerts_api: TestClient) -> None:
    assert (
        alerts_api.post(
            "/v1/silences", json={"matchers": {}, "duration_minutes": 5, "reason": "r"}
        ).status_code
        == 422
    )
    no_end = alerts_api.post("/v1/silences", json={"matchers": {"service": "a"}, "reason": "r"})
    assert no_end.status_code == 422
    backwards = alerts_api.post(
        "/v1/silences",
        json={"matchers": {"service": "a"}, "reason": "r", "ends_at": "2024-01-15T10:00:00Z"},
    )
    assert backwards.status_code == 422


def test_flapping_is_counted(alerts_api: TestClient, clock: FixedClock) -> None:
    resolve = {"event_action": "resolve", "dedup_key": "pd-alert-123", "source": "pagerduty"}
    last = {}
    for _ in range(4):
        last = alerts_api.post("/v1/alerts", json=SEED_ALERT).json()
        clock.advance(timedelta(minutes=2))
        alerts_api.post("/v1/alerts", json=resolve)
        clock.advance(timedelta(minutes=2))
    stored = alerts_api.get(f"/v1/alerts/{last['alert_id']}").json()
    assert stored["flap_count"] == 3
    assert stored["flapping"] is True
