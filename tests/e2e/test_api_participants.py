"""Incident roles through HTTP: hand-over of single-holder roles, renounce, commander field."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock


def declare(api: TestClient, **extra: object) -> str:
    body = {"title": "API error rate spike", "severity": "SEV2", **extra}
    return str(api.post("/v1/incidents", json=body).json()["id"])


def test_commander_handover_is_time_ranged(api: TestClient, clock: FixedClock) -> None:
    incident_id = declare(api, commander="oncall-backend")
    path = f"/v1/incidents/{incident_id}/participants"
    clock.advance(timedelta(minutes=20))
    current = api.post(path, json={"handle": "backup-eng", "role": "commander"})
    assert current.status_code == 201
    assert [(p["handle"], p["role"]) for p in current.json()] == [("backup-eng", "commander")]
    history = api.get(path).json()
    assert [(p["handle"], p["renounced_at"]) for p in history] == [
        ("oncall-backend", "2024-01-15T15:05:00Z"),
        ("backup-eng", None),
    ]
    assert api.get(f"/v1/incidents/{incident_id}").json()["commander"] == "backup-eng"
    events = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    assert events[-1]["summary"] == "backup-eng is commander (from oncall-backend)"


def test_responders_accumulate_and_renounce(api: TestClient) -> None:
    incident_id = declare(api)
    path = f"/v1/incidents/{incident_id}/participants"
    api.post(path, json={"handle": "alice", "role": "responder"})
    both = api.post(path, json={"handle": "bob", "role": "responder"}).json()
    assert sorted(p["handle"] for p in both) == ["alice", "bob"]
    left = api.post(f"{path}/renounce", json={"handle": "alice", "role": "responder"})
    assert [p["handle"] for p in left.json()] == ["bob"]
    again = api.post(f"{path}/renounce", json={"handle": "alice", "role": "responder"})
    assert again.status_code == 404
    assert api.post(path, json={"handle": "x", "role": "king"}).status_code == 422
    assert api.get("/v1/incidents/INC-20240115-0999/participants").status_code == 404


def test_patch_commander_moves_the_role(api: TestClient) -> None:
    incident_id = declare(api, commander="alice")
    api.patch(f"/v1/incidents/{incident_id}", json={"commander": "bob"})
    current = [
        p
        for p in api.get(f"/v1/incidents/{incident_id}/participants").json()
        if p["renounced_at"] is None
    ]
    assert [(p["handle"], p["role"]) for p in current] == [("bob", "commander")]
    api.patch(f"/v1/incidents/{incident_id}", json={"commander": None})
    history = api.get(f"/v1/incidents/{incident_id}/participants").json()
    assert all(p["renounced_at"] for p in history)
    assert api.get(f"/v1/incidents/{incident_id}").json()["commander"] is None
