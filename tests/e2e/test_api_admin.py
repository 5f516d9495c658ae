"""The admin API the CLI calls: keys, integrations, login links, and the server's state."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from tests.conftest import make_key
from tests.e2e.intake_support import SEED_ALERT


def as_key(container: Container, token: str) -> TestClient:
    made = TestClient(create_app(container), raise_server_exceptions=False)
    made.headers["Authorization"] = f"Bearer {token}"
    return made


def audit_actions(api: TestClient) -> list[str]:
    return [r["action"] for r in api.get("/v1/audit", params={"limit": 500}).json()]


def test_keys_create_list_rotate_revoke(api: TestClient, container: Container) -> None:
    made = api.post("/v1/keys", json={"name": "ci", "scopes": ["read", "write"]})
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["scopes"] == ["read", "write"] and key["token"].startswith(f"so1_{key['id']}_")
    me = as_key(container, key["token"]).get("/v1/keys/me").json()
    assert (me["id"], me["name"], me["scopes"]) == (key["id"], "ci", ["read", "write"])
    assert "token" not in me and "secret_hash" not in me

    listed = api.get("/v1/keys").json()
    assert key["id"] in [k["id"] for k in listed]
    assert all("token" not in k for k in listed)

    rotated = api.post(f"/v1/keys/{key['id']}/rotate", json={"grace_seconds": 60}).json()
    assert rotated["rotated_from"] == key["id"]
    assert rotated["old_key_expires_at"] == "2024-01-15T14:46:00Z"
    revoked = api.post(f"/v1/keys/{rotated['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] == "2024-01-15T14:45:00Z"
    assert as_key(container, rotated["token"]).get("/v1/keys/me").status_code == 401
    assert {"key.create", "key.rotate", "key.revoke"} <= set(audit_actions(api))


def test_key_routes_refuse_bad_input_and_non_admins(api: TestClient, container: Container) -> None:
    for body, field in (
        ({"name": "x", "scopes": ["root"]}, "body.scopes.0"),
        ({"name": "", "scopes": ["read"]}, "body.name"),
        ({"name": "x", "scopes": []}, "body.scopes"),
        ({"name": "x", "scopes": ["read"], "expires_in_days": 0}, "body.expires_in_days"),
    ):
        refused = api.post("/v1/keys", json=body)
        assert refused.status_code == 422, body
        assert field in [e["field"] for e in refused.json()["errors"]]
    assert api.post("/v1/keys/0000000000000000/revoke").status_code == 404
    writer = as_key(container, make_key(container, Scope.READ, Scope.WRITE, name="w"))
    assert writer.post("/v1/keys", json={"name": "x", "scopes": ["admin"]}).status_code == 403
    assert writer.get("/v1/keys").status_code == 403
    assert writer.get("/v1/keys/me").json()["name"] == "w"


def test_integrations_add_list_rotate_disable(api: TestClient) -> None:
    added = api.post("/v1/integrations", json={"source": "datadog", "name": "prod"})
    assert added.status_code == 201, added.text
    made = added.json()
    assert (made["source"], made["name"], len(made["secret"]) >= 32) == ("datadog", "prod", True)
    assert [i["id"] for i in api.get("/v1/integrations").json()] == [made["id"]]
    assert "secret" not in api.get("/v1/integrations").json()[0]

    rotated = api.post(f"/v1/integrations/{made['id']}/rotate", json={"secret": "s" * 20})
    assert rotated.status_code == 201 and rotated.json()["secret"] == "s" * 20
    assert rotated.json()["previous_valid_until"] == "2024-01-16T14:45:00Z"
    short = api.post(f"/v1/integrations/{made['id']}/rotate", json={"secret": "short"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "secret"
    disabled = api.post(f"/v1/integrations/{made['id']}/disable").json()
    assert disabled["disabled_at"] == "2024-01-15T14:45:00Z"

    again = api.post("/v1/integrations", json={"source": "datadog", "name": "prod"})
    assert again.status_code == 409
    unknown = api.post("/v1/integrations", json={"source": "nagios"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.source"
    assert {"integration.add", "integration.rotate", "integration.disable"} <= set(
        audit_actions(api)
    )


def test_login_links_for_own_key_and_for_others_by_admin(
    api: TestClient, container: Container
) -> None:
    own = api.post("/v1/login-links")
    assert own.status_code == 201, own.text
    assert own.json()["key_name"] == "admin" and own.json()["path"].startswith("/login/")
    assert own.json()["expires_at"] == "2024-01-15T15:00:00Z"
    browser = TestClient(create_app(container), follow_redirects=False)
    assert browser.get(own.json()["path"]).status_code == 303

    reader = as_key(container, make_key(container, Scope.READ, name="viewer"))
    assert reader.post("/v1/login-links").json()["key_name"] == "viewer"
    assert reader.post("/v1/login-links", json={"key_name": "admin"}).status_code == 403
    assert api.post("/v1/login-links", json={"key_name": "viewer"}).json()["key_name"] == "viewer"
    assert api.post("/v1/login-links", json={"key_name": "ghost"}).status_code == 404
    assert "web.login_link" in audit_actions(api)


def test_system_names_the_database_and_the_waiting_work(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    assert quiet_api.post("/v1/alerts", json=SEED_ALERT).status_code == 202
    state = quiet_api.get("/v1/system").json()
    database = state["database"]
    assert database["dialect"] == container.engine.dialect.name
    assert database["revision"] == database["latest_revision"] is not None
    assert database["url"] == container.engine.url.render_as_string(hide_password=True)
    background = state["background"]
    assert (background["setting"], background["engine"], background["jobs"]) == (
        "server",
        "",
        [],
    )
    assert background["queues"]["triage"] == {"waiting": 1, "oldest": "2024-01-15T14:45:00Z"}
    assert background["queues"]["delivery"]["waiting"] == 0
    assert background["problems"] == []

    clock.advance(timedelta(minutes=3))
    later = quiet_api.get("/v1/system").json()["background"]["problems"]
    assert later == ["triage: 1 waiting, the oldest for 3 min"]
    reader = as_key(container, make_key(container, Scope.READ, name="r"))
    assert reader.get("/v1/system").status_code == 403


def test_system_reports_the_jobs_this_server_runs(container: Container, admin_token: str) -> None:
    container.settings.clock_seconds = 1
    with as_key(container, admin_token) as api:  # the lifespan starts the jobs
        deadline = time.monotonic() + 15
        while True:
            jobs = {j["name"]: j for j in api.get("/v1/system").json()["background"]["jobs"]}
            if jobs and all(j["passes"] > 0 for j in jobs.values()):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.2)
        assert api.get("/v1/system").json()["background"]["engine"] == "in-process"
    assert set(jobs) == {"triage", "delivery", "clocks"}
    for job in jobs.values():
        assert job["alive"] and job["failures_in_a_row"] == 0 and job["last_error"] is None
        assert job["last_finished_at"] is not None
