"""Catalog, deployments and feature flags through HTTP (the seed's calls included)."""

from __future__ import annotations

from fastapi.testclient import TestClient

SERVICE = {
    "tier": "critical",
    "owner_team": "platform-team",
    "users": 1200,
    "dependencies": ["postgres", "redis"],
    "baselines": {"error_rate": 0.005, "p99_ms": 180},
    "platform": "railway",
}


def test_catalog_put_get(api: TestClient) -> None:
    created = api.put("/v1/services/control-plane-api", json=SERVICE)
    assert created.status_code == 201
    replaced = api.put("/v1/services/control-plane-api", json={**SERVICE, "tier": "high"})
    assert replaced.status_code == 200
    got = api.get("/v1/services/control-plane-api").json()
    assert got["tier"] == "high" and got["dependencies"] == ["postgres", "redis"]
    assert [s["name"] for s in api.get("/v1/services").json()] == ["control-plane-api"]
    assert api.get("/v1/services/nope").status_code == 404
    bad = api.put("/v1/services/x", json={**SERVICE, "tier": "urgent"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.tier"
    assert api.put("/v1/services/bad name!", json=SERVICE).status_code == 422


def test_deployments_recent_seed_call(api: TestClient) -> None:
    for version, at in [("v41", "2024-01-14T10:00:00Z"), ("v42", "2024-01-15T10:45:00Z")]:
        response = api.post(
            "/v1/deployments",
            json={
                "service": "control-plane-api",
                "version": version,
                "deployed_at": at,
                "deployed_by": "dana",
                "commit_sha": "abc123",
                "config": {"DATABASE_POOL_SIZE": "20"},
            },
        )
        assert response.status_code == 201, response.text
    api.post(
        "/v1/deployments",
        json={"service": "web", "version": "w1", "deployed_at": "2024-01-15T12:00:00Z"},
    )
    recent = api.get("/v1/deployments/recent?hours=24").json()
    assert [(d["service"], d["version"], d["previous_version"]) for d in recent["deployments"]] == [
        ("web", "w1", None),
        ("control-plane-api", "v42", "v41"),
    ]
    only = api.get(
        "/v1/deployments/recent", params={"hours": 48, "service": "control-plane-api"}
    ).json()
    assert [d["version"] for d in only["deployments"]] == ["v42", "v41"]
    assert api.get("/v1/deployments/recent?hours=0").status_code == 422
    future = api.post(
        "/v1/deployments",
        json={"service": "a", "version": "1", "deployed_at": "2030-01-01T00:00:00Z"},
    )
    assert future.status_code == 422


def test_feature_flag_seed_call_records_every_flip(api: TestClient) -> None:
    assert api.patch("/v1/feature-flags/bulk-execution", json={"enabled": False}).status_code == 404
    assert (
        api.put(
            "/v1/feature-flags/bulk-execution",
            json={"enabled": True, "service": "control-plane-api"},
        ).status_code
        == 201
    )
    flipped = api.patch(
        "/v1/feature-flags/bulk-execution", json={"enabled": False, "reason": "pool exhausted"}
    )
    assert flipped.status_code == 200
    assert flipped.json()["enabled"] is False and flipped.json()["service"] == "control-plane-api"
    assert api.get("/v1/feature-flags/bulk-execution").json()["enabled"] is False
    history = api.get("/v1/feature-flags/bulk-execution/history").json()
    assert [(h["enabled_before"], h["enabled_after"], h["actor"]) for h in history] == [
        (None, True, "admin"),
        (True, False, "admin"),
    ]
    assert history[1]["reason"] == "pool exhausted"
    audit = api.get("/v1/audit?action=flag.set").json()
    assert len(audit) == 2
    assert (
        api.patch("/v1/feature-flags/bulk-execution", json={"enabled": "maybe"}).status_code == 422
    )
    assert [f["key"] for f in api.get("/v1/feature-flags").json()] == ["bulk-execution"]
