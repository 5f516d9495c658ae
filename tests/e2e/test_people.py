"""People as accounts, through the API on SQLite and PostgreSQL: a person's role bounds their
keys, disabling a person stops their keys and ends their web sessions within one request
(with the key cache on), the two-person rule compares people across keys and web sessions,
and the administration routes refuse bad input with a clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container, build_container
from so1.config import Settings
from tests.contract.railway_server import RailwayState
from tests.e2e.conftest import Cli
from tests.e2e.deployer_support import client_for, finished
from tests.e2e.test_approvals import waiting_run
from tests.e2e.test_web_pages import CSRF, FORM, browser, sign_in


def add_person(api: TestClient, handle: str, role: str) -> dict[str, Any]:
    answer = api.post("/v1/people", json={"handle": handle, "role": role})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def key_of(api: TestClient, name: str, person: str | None, *scopes: str) -> str:
    body = {"name": name, "scopes": list(scopes), "person": person}
    answer = api.post("/v1/keys", json=body)
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def csrf_of(client: TestClient, path: str = "/") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def test_a_persons_role_bounds_their_keys_and_service_keys_keep_theirs(
    api: TestClient, container: Container
) -> None:
    add_person(api, "ana", "viewer")
    ana = client_for(container, key_of(api, "ana-laptop", "ana", "read", "write", "deploy"))
    bot = client_for(container, key_of(api, "ci-bot", None, "read", "write"))
    incident = {"title": "Checkout down", "severity": "SEV2"}
    assert ana.get("/v1/incidents").status_code == 200
    refused = ana.post("/v1/incidents", json=incident)
    assert refused.status_code == 403, refused.text
    assert "(ana) has the role 'viewer', without 'write'" in refused.json()["detail"]
    assert bot.post("/v1/incidents", json=incident).status_code == 201

    assert api.put("/v1/people/ana/role", json={"role": "responder"}).json()["role"] == "responder"
    assert ana.post("/v1/incidents", json=incident).status_code == 201
    deploy = {"service": "checkout", "version": "v2"}
    assert ana.post("/v1/deployments", json=deploy).status_code == 403
    api.put("/v1/people/ana/role", json={"role": "deployer"})
    assert ana.post("/v1/deployments", json=deploy).status_code < 300

    listed = {k["name"]: k for k in api.get("/v1/keys").json()}
    assert listed["ci-bot"]["service"] is True and listed["ana-laptop"]["service"] is False
    people = {p["handle"]: p for p in api.get("/v1/people").json()}
    assert people["ana"]["role"] == "deployer" and people["ana"]["disabled_at"] is None


@pytest.fixture
def cached(db_url: str, clock: FixedClock) -> Iterator[Container]:
    """A server with the key cache on, as production runs (the shared fixture turns it off)."""
    settings = Settings(database_url=db_url, db_pool_size=5, auth_cache_seconds=300)
    built = build_container(settings, clock=clock)
    yield built
    built.close()


def test_disabling_stops_keys_and_sessions_at_once_even_with_the_key_cache(
    cached: Container, admin_token: str
) -> None:
    api = client_for(cached, admin_token)
    add_person(api, "ana", "responder")
    ana = client_for(cached, key_of(api, "ana-laptop", "ana", "read", "write"))
    assert ana.get("/v1/incidents").status_code == 200  # now in the key cache
    assert ana.get("/v1/incidents").status_code == 200
    page = sign_in(cached, key_of(api, "ana-browser", "ana", "read"))
    assert page.get("/").status_code == 200

    disabled = api.post("/v1/people/ana/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = ana.get("/v1/incidents")
    assert refused.status_code == 401 and "(ana) is disabled" in refused.json()["detail"]
    assert page.get("/").headers["location"] == "/login"
    audit = api.get("/v1/audit", params={"action": "auth.failed"}).json()
    assert any(r["detail"].get("reason") == "person disabled" for r in audit), audit
    [change] = api.get("/v1/audit", params={"action": "person.disable"}).json()
    assert change["detail"] == {"keys_stopped": 2, "sessions_ended": 1}
    assert api.post("/v1/people/ana/disable").status_code == 409

    assert api.post("/v1/people/ana/enable").status_code == 200
    assert ana.get("/v1/incidents").status_code == 200
    assert page.get("/").headers["location"] == "/login"  # ended sessions stay ended


def test_a_disabled_person_cannot_sign_in_to_the_pages(
    api: TestClient, container: Container
) -> None:
    add_person(api, "ana", "responder")
    token = key_of(api, "ana-browser", "ana", "read")
    api.post("/v1/people/ana/disable")
    client = browser(container)
    form = {"api_key": token, "csrf": csrf_of(client, "/login")}
    refused = client.post("/login", content=urlencode(form), headers=FORM)
    assert refused.status_code == 401 and "/login" not in refused.headers.get("location", "")


def test_the_two_person_rule_holds_across_a_key_and_a_web_session(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    for handle in ("ana", "bo"):
        add_person(api, handle, "deployer")
    laptop = client_for(container, key_of(api, "ana-laptop", "ana", "read", "write", "deploy"))
    incident_id, run_id = waiting_run(laptop, container, "rollback")
    ana_page = sign_in(container, key_of(api, "ana-browser", "ana", "read", "write", "deploy"))
    approve = f"/incidents/{incident_id}/runs/{run_id}/approve"
    form = urlencode({"csrf": csrf_of(ana_page, f"/incidents/{incident_id}")})
    refused = ana_page.post(approve, content=form, headers=FORM)
    assert refused.status_code == 409, refused.text
    assert "someone other than its requester (ana)" in refused.text
    assert api.get(f"/v1/orchestrate/runs/{run_id}").json()["status"] == "awaiting_approval"

    bo_page = sign_in(container, key_of(api, "bo-browser", "bo", "read", "write", "deploy"))
    form = urlencode({"csrf": csrf_of(bo_page, f"/incidents/{incident_id}")})
    assert bo_page.post(approve, content=form, headers=FORM).status_code == 303
    done = finished(api, run_id)
    assert done["status"] == "completed" and done["output"]["approved_by"] == "bo-browser"


def test_people_administration_refuses_bad_input_clearly(
    api: TestClient, container: Container
) -> None:
    add_person(api, "ana", "responder")
    duplicate = api.post("/v1/people", json={"handle": "ana"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    bad_role = api.post("/v1/people", json={"handle": "cy", "role": "boss"})
    assert bad_role.status_code == 422 and "role" in bad_role.text
    bad_handle = api.post("/v1/people", json={"handle": "no spaces"})
    assert bad_handle.status_code == 422 and "handle" in bad_handle.text
    no_team = api.post("/v1/people", json={"handle": "cy", "team": "ghosts"})
    assert no_team.status_code == 404 and "team ghosts" in no_team.json()["detail"]
    assert api.post("/v1/people/nobody/disable").status_code == 404
    assert api.put("/v1/people/nobody/role", json={"role": "viewer"}).status_code == 404
    assert api.post("/v1/people/ana/enable").status_code == 409
    responder = client_for(container, key_of(api, "ana-laptop", "ana", "read", "write"))
    assert responder.post("/v1/people", json={"handle": "cy"}).status_code == 403


def test_an_admin_cannot_disable_themselves(api: TestClient, container: Container) -> None:
    add_person(api, "root", "admin")
    own = client_for(container, key_of(api, "root-laptop", "root", "admin"))
    refused = own.post("/v1/people/root/disable")
    assert refused.status_code == 409 and "yourself" in refused.json()["detail"]
    assert own.get("/v1/people").status_code == 200


def test_the_people_page_adds_sets_roles_and_disables_with_csrf(
    api: TestClient, container: Container, admin_token: str
) -> None:
    add_person(api, "ana", "responder")
    admin = sign_in(container, admin_token)
    page = admin.get("/people")
    assert page.status_code == 200 and "@ana" in page.text and 'href="/people"' in page.text
    csrf = csrf_of(admin, "/people")
    forged = admin.post("/people", content="handle=cy&role=viewer&csrf=wrong", headers=FORM)
    assert forged.status_code == 403
    body = urlencode({"handle": "cy", "name": "Cy", "role": "deployer", "csrf": csrf})
    assert admin.post("/people", content=body, headers=FORM).status_code == 303
    body = urlencode({"handle": "ana", "role": "viewer", "csrf": csrf})
    assert admin.post("/people/role", content=body, headers=FORM).status_code == 303
    body = urlencode({"handle": "ana", "csrf": csrf})
    assert admin.post("/people/disable", content=body, headers=FORM).status_code == 303
    people = {p["handle"]: p for p in api.get("/v1/people").json()}
    assert people["cy"]["role"] == "deployer" and people["cy"]["name"] == "Cy"
    assert people["ana"]["role"] == "viewer" and people["ana"]["disabled_at"] is not None
    assert "Enable @ana" in admin.get("/people").text
    body = urlencode({"handle": "dee", "role": "boss", "csrf": csrf})
    bad = admin.post("/people", content=body, headers=FORM)
    assert bad.status_code == 422 and "unknown role" in bad.text

    reader = sign_in(container, key_of(api, "reader", None, "read"))
    assert reader.get("/people").status_code == 403
    assert 'href="/people"' not in reader.get("/").text


def test_the_cli_lists_adds_sets_roles_disables_and_enables(
    server_cli: Cli, api: TestClient, container: Container
) -> None:
    added = server_cli("people", "add", "ana", "--role", "responder", "--name", "Ana Lima")
    assert "added ana as responder" in added.assert_ok().stdout
    ana = client_for(container, key_of(api, "ana-laptop", "ana", "read", "write", "deploy"))
    assert "ana is now deployer" in server_cli("people", "role", "ana", "deployer").stdout
    assert ana.post("/v1/deployments", json={"service": "s", "version": "1"}).status_code < 300
    assert "disabled ana" in server_cli("people", "disable", "ana").assert_ok().stdout
    assert ana.get("/v1/incidents").status_code == 401
    listed = server_cli("people", "list").assert_ok().stdout
    assert "ana" in listed and "deployer" in listed and "disabled since" in listed
    as_json = server_cli("people", "list", "--json").assert_ok().stdout
    assert '"role": "deployer"' in as_json
    assert "enabled ana" in server_cli("people", "enable", "ana").assert_ok().stdout
    assert ana.get("/v1/incidents").status_code == 200
    again = server_cli("people", "add", "ana").assert_clean_failure()
    assert "already exists" in again
    bad = server_cli("people", "role", "ana", "boss")
    assert bad.exit_code == 2 and "'boss' is not one of 'viewer'" in bad.stderr
    keys = server_cli("keys", "list").assert_ok().stdout
    assert "(service key)" in keys


def test_keys_me_shows_the_effective_scopes_beside_the_stored_ones(
    api: TestClient, container: Container
) -> None:
    add_person(api, "ana", "responder")
    ana = client_for(container, key_of(api, "ana-laptop", "ana", "read", "write", "deploy"))
    me = ana.get("/v1/keys/me").json()
    assert me["scopes"] == ["deploy", "read", "write"]
    assert me["effective_scopes"] == ["read", "write"] and me["role"] == "responder"
    api.put("/v1/people/ana/role", json={"role": "viewer"})
    assert ana.get("/v1/keys/me").json()["effective_scopes"] == ["read"]
    bot = client_for(container, key_of(api, "ci-bot", None, "read", "write"))
    mine = bot.get("/v1/keys/me").json()
    assert mine["effective_scopes"] == mine["scopes"] == ["read", "write"]
    assert mine["role"] is None


def test_a_key_for_a_handle_that_is_nobody_is_refused_naming_it(api: TestClient) -> None:
    body = {"name": "ghost-laptop", "scopes": ["read"], "person": "ghost"}
    refused = api.post("/v1/keys", json=body)
    assert refused.status_code == 422, refused.text
    assert "person 'ghost' is not in the directory" in refused.json()["detail"]
    assert all(k["name"] != "ghost-laptop" for k in api.get("/v1/keys").json())


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(api: TestClient) -> None:
    add_person(api, "root", "admin")
    demoted = api.put("/v1/people/root/role", json={"role": "responder"})
    assert demoted.status_code == 409 and "last enabled admin" in demoted.json()["detail"]
    disabled = api.post("/v1/people/root/disable")
    assert disabled.status_code == 409 and "last enabled admin" in disabled.json()["detail"]
    add_person(api, "second", "admin")
    assert api.post("/v1/people/root/disable").status_code == 200
    refused = api.put("/v1/people/second/role", json={"role": "viewer"})
    assert refused.status_code == 409 and "second is the last" in refused.json()["detail"]
    assert api.post("/v1/people/root/enable").status_code == 200
    assert api.put("/v1/people/second/role", json={"role": "viewer"}).status_code == 200
