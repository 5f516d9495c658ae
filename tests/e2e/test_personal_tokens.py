"""Personal API tokens: a person signed in with single sign-on (a session without a key)
makes a token for themselves on /me/tokens; it belongs to them, carries their role's scopes
and follows their role; they revoke it there. A session whose key names nobody has none."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor
from tests.conftest import make_key
from tests.e2e.oidc_support import Forge
from tests.e2e.test_sso_tokens import admin, back, begin, forge, person, sso
from tests.e2e.test_web_pages import CSRF, FORM, browser, sign_in

__all__ = ["admin", "forge", "sso"]  # fixtures
TOKEN = re.compile(r'<code id="new-token">([^<]+)</code>')


def signed_in_with_sso(sso: Container, forge: Forge, groups: list[str]) -> TestClient:
    client = browser(sso)
    asked = begin(client)
    forge.id_token = forge.sign(forge.claims(asked["nonce"], groups=groups))
    assert back(client, asked["state"]).status_code == 303
    return client


def form(client: TestClient, path: str, **fields: str) -> tuple[int, str]:
    assert 'href="/me/tokens"' in client.get("/").text  # a person's pages link to it
    page = client.get("/me/tokens")
    csrf = CSRF.search(page.text)
    assert page.status_code == 200 and csrf is not None, page.text
    body = urlencode({"csrf": csrf.group(1), **fields})
    answer = client.post(path, content=body, headers=FORM)
    return answer.status_code, answer.text


def with_token(sso: Container, token: str) -> TestClient:
    client = TestClient(browser(sso).app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_a_signed_in_person_makes_a_token_of_their_own_bounded_by_their_role(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "viewer")
    client = signed_in_with_sso(sso, forge, ["sre"])  # sre → responder
    status, page = form(client, "/me/tokens", name="laptop", days="30")
    assert status == 201, page
    found = TOKEN.search(page)
    assert found is not None and "shown this once" in page
    mine = with_token(sso, found.group(1))
    me = mine.get("/v1/keys/me").json()
    assert (me["name"], me["person"]) == ("laptop", "ana")
    assert sorted(me["effective_scopes"]) == ["read", "write"]
    assert mine.post("/v1/keys", json={"name": "more", "scopes": ["admin"]}).status_code == 403
    made = admin.get("/v1/audit", params={"action": "key.create"}).json()[0]  # newest first
    assert made["actor"] == "ana" and made["detail"]["person"] == "ana"
    assert admin.put("/v1/people/ana/role", json={"role": "viewer"}).status_code == 200
    assert mine.get("/v1/keys/me").json()["effective_scopes"] == ["read"]  # follows the role
    assert "laptop" in client.get("/me/tokens").text  # listed (the token itself is not)
    assert found.group(1) not in client.get("/me/tokens").text


def test_a_person_revokes_their_token_and_no_one_elses(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "responder")
    person(admin, "bo", "responder")
    bos = access.create_key(
        sso.uow, sso.clock, Actor("fixture"), "bo-laptop", frozenset({Scope.READ}), person="bo"
    ).token
    client = signed_in_with_sso(sso, forge, [])
    status, page = form(client, "/me/tokens", name="ci", days="")
    found = TOKEN.search(page)
    assert status == 201 and found is not None
    key_id = with_token(sso, found.group(1)).get("/v1/keys/me").json()["id"]
    assert form(client, "/me/tokens/revoke", key_id=key_id)[0] == 303
    assert with_token(sso, found.group(1)).get("/v1/keys/me").status_code == 401
    bo_id = with_token(sso, bos).get("/v1/keys/me").json()["id"]
    status, page = form(client, "/me/tokens/revoke", key_id=bo_id)
    assert status == 404 and "you have no key" in page
    assert with_token(sso, bos).get("/v1/keys/me").status_code == 200
    assert form(client, "/me/tokens", name="  ")[0] == 422


def test_a_session_of_a_service_key_has_no_personal_tokens(sso: Container) -> None:
    client = sign_in(sso, make_key(sso, Scope.ADMIN, name="ci-bot"))
    assert 'href="/me/tokens"' not in client.get("/").text  # no link to a page it cannot use
    page = client.get("/me/tokens")
    assert page.status_code == 403 and "names no person" in page.text
