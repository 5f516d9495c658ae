"""Single sign-on's edges against the test's own provider (tests/e2e/oidc_support.py Forge):
groups from the userinfo endpoint when the id_token has none, the last admin kept admin by
the group mapping, and a token endpoint answering HTML (a proxy's 502) refused with the
sign-in page and an audit record, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from so1.adapters.identity.oidc import with_userinfo
from so1.bootstrap import Container
from tests.e2e.oidc_support import Forge
from tests.e2e.test_sso_tokens import admin, back, begin, forge, person, reasons, sso
from tests.e2e.test_web_pages import browser

__all__ = ["admin", "forge", "sso"]  # fixtures
PROXY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def roles(admin: TestClient) -> dict[str, str]:
    return {p["handle"]: p["role"] for p in admin.get("/v1/people").json()}


def test_groups_come_from_userinfo_when_the_id_token_has_none(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    forge.userinfo = {"sub": "ana-123", "email": "ana@example.test", "groups": ["security"]}
    person(admin, "ana", "viewer")
    client = browser(sso)
    asked = begin(client)
    claims = forge.claims(asked["nonce"])
    del claims["groups"]
    forge.id_token = forge.sign(claims)
    assert back(client, asked["state"]).status_code == 303
    assert roles(admin)["ana"] == "security"  # security → security, from userinfo
    assert forge.userinfo_auth == ["Bearer at"]  # asked with the access token


def test_userinfo_fills_only_what_the_id_token_lacks_and_only_for_its_subject() -> None:
    names = ("groups", "email", "email_verified", "name")
    claims = {"sub": "ana-123", "email": "ana@example.test"}
    other = {"sub": "bo-9", "groups": ["admins"], "email_verified": True}
    assert with_userinfo(claims, other, names) == claims
    assert with_userinfo(claims, {"sub": "ana-123"}, names) == claims
    same = {"sub": "ana-123", "groups": ["sre"], "email": "x@evil.test", "email_verified": True}
    merged = with_userinfo(claims, same | {"phone": "1"}, names)
    assert merged == claims | {"groups": ["sre"], "email_verified": True}


def test_the_mapping_does_not_demote_the_last_admin(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "admin")

    def sign_in(groups: list[str]) -> None:
        client = browser(sso)
        asked = begin(client)
        forge.id_token = forge.sign(forge.claims(asked["nonce"], groups=groups))
        assert back(client, asked["state"]).status_code == 303

    sign_in(["sre"])
    assert roles(admin)["ana"] == "admin"
    (kept,) = admin.get("/v1/audit", params={"action": "person.role_kept"}).json()
    assert (kept["resource_id"], kept["detail"]["mapped"]) == ("ana", "responder")
    person(admin, "bo", "admin")  # another admin: now the mapping holds
    sign_in(["sre"])
    assert roles(admin)["ana"] == "responder"


@pytest.mark.parametrize(
    ("status", "why"), [(502, "HTTP 502"), (200, "not a JSON object")], ids=["502", "200-html"]
)
def test_a_token_endpoint_answering_html_is_a_refusal_not_a_500(
    sso: Container, admin: TestClient, forge: Forge, status: int, why: str
) -> None:
    person(admin, "ana", "viewer")
    forge.token_answer = (status, "text/html", PROXY_PAGE)
    client = browser(sso)
    asked = begin(client)
    page = back(client, asked["state"])
    assert page.status_code == 401, page.text
    assert "token endpoint answered no token" in page.text and why in page.text
    assert reasons(admin) == ["token endpoint answer not JSON"]
