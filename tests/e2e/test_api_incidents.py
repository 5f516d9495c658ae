"""Incidents through HTTP: declare, read, list, the seed's close call, transitions, timeline."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

SEED_CLOSE = {
    "status": "resolved",
    "resolution_summary": "Increased connection pool size",
    "resolved_at": "2024-01-15T14:30:00Z",
}


def declare(api: TestClient, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "API error rate spike",
        "severity": "SEV2",
        "service": "control-plane-api",
        "detected_at": "2024-01-15T13:50:00Z",
        **extra,
    }
    response = api.post("/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_declare_then_read(api: TestClient) -> None:
    created = declare(api, impact={"users_affected": 150, "services": ["control-plane-api"]})
    assert created["id"] == "INC-20240115-0001"
    assert created["status"] == "triggered"
    assert created["next_statuses"] == ["investigating", "identified", "mitigating", "resolved"]
    got = api.get(f"/v1/incidents/{created['id']}")
    assert got.status_code == 200
    assert got.json() == {**created, "alerts": [], "alert_count": 0}  # no alert attached


def test_seed_close_call(api: TestClient) -> None:
    incident = declare(api, status="investigating")
    assert incident["declared_at"] == "2024-01-15T14:45:00Z"
    response = api.patch(f"/v1/incidents/{incident['id']}", json=SEED_CLOSE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"] == "2024-01-15T14:30:00Z"
    assert body["resolution_summary"] == "Increased connection pool size"
    assert body["version"] == 2
    kinds = [
        e["kind"] for e in api.get(f"/v1/incidents/{incident['id']}/timeline").json()["events"]
    ]
    assert kinds == ["incident.declared", "incident.updated", "status.changed"]


def test_a_triggered_incident_is_recorded_not_declared(api: TestClient) -> None:
    incident = declare(api)
    assert (incident["status"], incident["declared_at"]) == ("triggered", None)
    first = api.get(f"/v1/incidents/{incident['id']}/timeline").json()["events"][0]
    assert first["kind"] == "incident.recorded"
    assert "recorded" in first["summary"] and "declared" not in first["summary"]

    moved = api.patch(f"/v1/incidents/{incident['id']}", json={"status": "investigating"})
    assert moved.json()["declared_at"] == "2024-01-15T14:45:00Z"


def test_invalid_transition_is_409_naming_allowed(api: TestClient) -> None:
    incident = declare(api)
    api.patch(f"/v1/incidents/{incident['id']}", json=SEED_CLOSE)
    response = api.patch(f"/v1/incidents/{incident['id']}", json={"status": "mitigating"})
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["allowed"] == ["closed", "investigating"]
    assert "allowed next statuses: closed, investigating" in problem["detail"]


def test_failed_patch_changes_nothing(api: TestClient) -> None:
    incident = declare(api)
    bad = {"severity": "SEV1", "severity_reason": "worse", "title": "renamed", "status": "closed"}
    assert api.patch(f"/v1/incidents/{incident['id']}", json=bad).status_code == 409
    after = api.get(f"/v1/incidents/{incident['id']}").json()
    assert (after["severity"], after["title"], after["version"]) == ("SEV2", incident["title"], 1)
    assert len(api.get(f"/v1/incidents/{incident['id']}/timeline").json()["events"]) == 1


def test_severity_change_kept_with_who_and_why(api: TestClient) -> None:
    incident = declare(api)
    patch = {"severity": "SEV1", "severity_reason": "checkout failing too"}
    assert api.patch(f"/v1/incidents/{incident['id']}", json=patch).status_code == 200
    timeline = api.get(f"/v1/incidents/{incident['id']}/timeline").json()
    history = timeline["severity_history"]
    assert [(h["from_severity"], h["to_severity"]) for h in history] == [
        (None, "SEV2"),
        ("SEV2", "SEV1"),
    ]
    assert history[1]["reason"] == "checkout failing too" and history[1]["actor"] == "admin"
    assert timeline["events"][-1]["summary"] == "severity SEV2 → SEV1: checkout failing too"


def test_every_change_is_audited(api: TestClient) -> None:
    incident = declare(api)
    api.patch(f"/v1/incidents/{incident['id']}", json={"status": "investigating"})
    actions = [
        (r["action"], r["resource_id"]) for r in api.get("/v1/audit?action=incident.status").json()
    ]
    assert actions == [("incident.status", incident["id"])]


def test_list_filters_and_pagination(api: TestClient) -> None:
    ids = [declare(api, severity=sev)["id"] for sev in ("SEV1", "SEV2", "SEV3")]
    api.patch(f"/v1/incidents/{ids[0]}", json={"status": "resolved"})
    page = api.get("/v1/incidents", params={"status": "triggered", "limit": 1}).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (2, 1, 1)
    both = api.get("/v1/incidents?severity=SEV1,SEV3").json()
    assert sorted(i["id"] for i in both["items"]) == [ids[0], ids[2]]
    assert api.get("/v1/incidents?service=nothing").json()["total"] == 0
    bad = api.get("/v1/incidents?status=exploded")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_resolved_at_rules(api: TestClient) -> None:
    incident = declare(api)
    future = api.patch(
        f"/v1/incidents/{incident['id']}",
        json={"status": "resolved", "resolved_at": "2030-01-01T00:00:00Z"},
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "resolved_at"
    without_status = api.patch(
        f"/v1/incidents/{incident['id']}", json={"resolved_at": "2024-01-15T14:00:00Z"}
    )
    assert without_status.status_code == 422
    naive = api.patch(
        f"/v1/incidents/{incident['id']}",
        json={"status": "resolved", "resolved_at": "2024-01-15T14:00:00"},
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "body.resolved_at"


def test_unknown_and_malformed_ids_are_404(api: TestClient) -> None:
    assert api.get("/v1/incidents/INC-20240115-9999").status_code == 404
    assert api.get("/v1/incidents/not-an-id").status_code == 404
    assert (
        api.patch("/v1/incidents/INC-20240115-9999", json={"status": "resolved"}).status_code == 404
    )
    assert api.get("/v1/incidents/INC-20240115-9999/timeline").status_code == 404


def test_null_for_required_field_is_422(api: TestClient) -> None:
    incident = declare(api)
    response = api.patch(f"/v1/incidents/{incident['id']}", json={"status": None})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "status"


def test_reopen_and_close(api: TestClient) -> None:
    incident = declare(api)
    path = f"/v1/incidents/{incident['id']}"
    api.patch(path, json={"status": "resolved"})
    reopened = api.patch(path, json={"status": "investigating"}).json()
    assert reopened["resolved_at"] is None
    api.patch(path, json={"status": "resolved"})
    closed = api.patch(path, json={"status": "closed"}).json()
    assert closed["closed_at"] == "2024-01-15T14:45:00Z" and closed["next_statuses"] == []
