"""Single sign-on against a provider of our own (tests/e2e/oidc_support.py Forge: discovery,
JWKS, token endpoint) that hands out crafted id_tokens, on SQLite and PostgreSQL: a good
sign-in makes a session of the person with the role their groups map to; each bad token,
a replayed state or nonce, an unverified email, an unknown or disabled person is refused with
the sign-in page (401) naming the reason and an ``auth.failed`` audit record."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from so1.adapters.clock import FixedClock
from so1.adapters.identity.oidc import OidcProvider
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.severity import Severity
from tests.conftest import make_key, open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import client_for
from tests.e2e.oidc_support import CLIENT_ID, CLIENT_SECRET, Forge
from tests.e2e.test_approvals import waiting_run
from tests.e2e.test_web_pages import CSRF, FORM, browser

ROLE_MAP = "sre=responder,security=security,admins=admin"


@pytest.fixture
def forge() -> Iterator[Forge]:
    made = Forge()
    yield made
    made.close()


def sso_container(db_url: str, clock: FixedClock, issuer: str, **settings: Any) -> Container:
    values: dict[str, Any] = {
        "database_url": db_url,
        "db_pool_size": 5,
        "auth_cache_seconds": 0,
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_role_map": ROLE_MAP,
    }
    return build_container(Settings(**values | settings), clock=clock)


@pytest.fixture
def sso(db_url: str, clock: FixedClock, forge: Forge) -> Iterator[Container]:
    built = sso_container(db_url, clock, forge.issuer)
    yield built
    built.close()


@pytest.fixture
def admin(sso: Container) -> TestClient:
    return client_for(sso, make_key(sso, Scope.ADMIN, name="admin"))


def person(admin: TestClient, handle: str, role: str = "viewer", **fields: str) -> None:
    body = {"handle": handle, "role": role, "email": f"{handle}@example.test"} | fields
    made = admin.post("/v1/people", json=body)
    assert made.status_code == 201, made.text


def begin(client: TestClient) -> dict[str, str]:
    """/login/oidc: the provider's authorization URL with state, nonce and PKCE (S256)."""
    sent = client.get("/login/oidc")
    assert sent.status_code == 303, sent.text
    url = urlsplit(sent.headers["location"])
    asked = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/authorize" and asked["code_challenge_method"] == "S256"
    assert asked["client_id"] == CLIENT_ID and asked["scope"] == "openid email profile"
    assert asked["redirect_uri"] == "http://testserver/login/oidc/callback"
    return asked


def back(client: TestClient, state: str, code: str = "code-1") -> httpx2.Response:
    return client.get("/login/oidc/callback", params={"code": code, "state": state})


def reasons(admin: TestClient) -> list[str]:
    found = admin.get("/v1/audit", params={"action": "auth.failed"}).json()
    return [r["detail"].get("reason") for r in found]


def test_a_person_signs_in_with_their_mapped_role_and_acts_as_themselves(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "viewer")
    client = browser(sso)
    asked = begin(client)
    forge.id_token = forge.sign(forge.claims(asked["nonce"], groups=["marketing", "sre"]))
    signed = back(client, asked["state"])
    assert signed.status_code == 303 and signed.headers["location"] == "/", signed.text
    verifier = parse_qs(forge.bodies[-1])["code_verifier"][0]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == asked["code_challenge"]  # PKCE: the verifier matches
    assert parse_qs(forge.bodies[-1])["code"] == ["code-1"]

    dashboard = client.get("/")
    assert dashboard.status_code == 200 and "ana" in dashboard.text
    people = {p["handle"]: p for p in admin.get("/v1/people").json()}
    assert people["ana"]["role"] == "responder"  # sre → responder
    incident = open_incident(sso, "Checkout down", Severity.SEV2)
    csrf = CSRF.search(client.get(f"/incidents/{incident.id}").text)
    assert csrf is not None
    form = urlencode({"csrf": csrf.group(1)})
    acked = client.post(f"/incidents/{incident.id}/acknowledge", content=form, headers=FORM)
    assert acked.status_code == 303, acked.text
    assert admin.get(f"/v1/incidents/{incident.id}").json()["acknowledged_by"] == "ana"
    [sso_record] = admin.get("/v1/audit", params={"action": "auth.sso"}).json()
    assert sso_record["detail"]["person"] == "ana" and sso_record["detail"]["role"] == "responder"
    deploy = client.post("/incidents/x/platform", content=form, headers=FORM)
    assert deploy.status_code == 403  # a responder does not deploy


def test_the_highest_mapped_role_wins_and_no_mapped_group_keeps_the_role(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "deployer")
    for groups, expected in ((["marketing"], "deployer"), (["sre", "security"], "security")):
        client = browser(sso)
        asked = begin(client)
        forge.id_token = forge.sign(forge.claims(asked["nonce"], groups=groups))
        assert back(client, asked["state"]).status_code == 303
        people = {p["handle"]: p for p in admin.get("/v1/people").json()}
        assert people["ana"]["role"] == expected, groups


def bad_claims(forge: Forge, nonce: str, case: str) -> str:
    now = int(time.time())
    if case == "wrong issuer":
        return forge.sign(forge.claims(nonce, iss="http://127.0.0.1:9/other"))
    if case == "wrong audience":
        return forge.sign(forge.claims(nonce, aud="someone-else"))
    if case == "expired":
        return forge.sign(forge.claims(nonce, iat=now - 900, exp=now - 600))
    if case == "bad signature":
        impostor = RSAKey.generate_key(2048, parameters={"kid": str(forge.key.kid)})
        return forge.sign(forge.claims(nonce), key=impostor)
    assert case == "nonce mismatch"
    return forge.sign(forge.claims("a-nonce-from-another-sign-in"))


@pytest.mark.parametrize(
    "case", ["wrong issuer", "wrong audience", "expired", "bad signature", "nonce mismatch"]
)
def test_each_bad_id_token_is_refused_with_a_page_and_an_audit_record(
    sso: Container, admin: TestClient, forge: Forge, case: str
) -> None:
    person(admin, "ana", "responder")
    client = browser(sso)
    asked = begin(client)
    forge.id_token = bad_claims(forge, asked["nonce"], case)
    refused = back(client, asked["state"])
    assert refused.status_code == 401, refused.text
    assert "Single sign-on refused" in refused.text and case in refused.text
    assert "text/html" in refused.headers["content-type"]
    assert client.get("/").headers["location"] == "/login"  # no session
    assert reasons(admin) == [case]


def test_a_replayed_id_token_or_state_is_refused(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "responder")
    client = browser(sso)
    first = begin(client)
    forge.id_token = forge.sign(forge.claims(first["nonce"]))
    assert back(client, first["state"]).status_code == 303
    assert "so1_oidc_state" not in client.cookies  # used: the browser forgets it
    replayed = back(client, first["state"])  # the same callback again
    assert replayed.status_code == 401 and "state mismatch" in replayed.text
    client.cookies.set("so1_oidc_state", first["state"], domain="testserver.local")
    replayed = back(client, first["state"])  # ... with the state cookie kept by hand
    client.cookies.clear()
    assert replayed.status_code == 401 and "replayed state" in replayed.text
    second = begin(client)  # the old id_token (and its nonce) on a new sign-in
    refused = back(client, second["state"])
    assert refused.status_code == 401 and "nonce mismatch" in refused.text
    stranger = browser(sso)  # a state this browser was never given
    elsewhere = back(stranger, begin(client)["state"])
    assert elsewhere.status_code == 401 and "state mismatch" in elsewhere.text
    assert reasons(admin) == [
        "state mismatch",
        "nonce mismatch",
        "state replayed or expired",
        "state mismatch",
    ]


def test_unverified_unknown_and_disabled_people_are_refused(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "responder")
    person(admin, "dis", "responder")
    assert admin.post("/v1/people/dis/disable").status_code == 200
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email_verified": False}, "has not verified the email"),
        ({"email": "nobody@example.test"}, "no one in SO1&#39;s people directory"),
        ({"email": "dis@example.test"}, "(@dis) is disabled"),
    ]
    for changes, message in cases:
        client = browser(sso)
        asked = begin(client)
        forge.id_token = forge.sign(forge.claims(asked["nonce"], **changes))
        refused = back(client, asked["state"])
        assert refused.status_code == 401 and message in refused.text, refused.text
    assert reasons(admin) == ["person disabled", "unknown person", "email not verified"]


def test_auto_create_makes_a_viewer_of_a_verified_stranger(
    db_url: str, clock: FixedClock, forge: Forge
) -> None:
    built = sso_container(db_url, clock, forge.issuer, oidc_auto_create=True, oidc_role_map="")
    try:
        client = browser(built)
        asked = begin(client)
        claims = forge.claims(asked["nonce"], email="New.Comer@example.test", name="New Comer")
        forge.id_token = forge.sign(claims)
        assert back(client, asked["state"]).status_code == 303
        admin = client_for(built, make_key(built, Scope.ADMIN, name="admin"))
        people = {p["handle"]: p for p in admin.get("/v1/people").json()}
        assert people["new.comer"]["role"] == "viewer"
        assert people["new.comer"]["email"] == "New.Comer@example.test"
        assert client.get("/").status_code == 200
    finally:
        built.close()


def test_disabling_a_person_ends_their_sso_session_within_one_request(
    sso: Container, admin: TestClient, forge: Forge
) -> None:
    person(admin, "ana", "responder")
    client = browser(sso)
    asked = begin(client)
    forge.id_token = forge.sign(forge.claims(asked["nonce"]))
    back(client, asked["state"])
    assert client.get("/").status_code == 200
    assert admin.post("/v1/people/ana/disable").json()["disabled"] is True
    assert client.get("/").headers["location"] == "/login"
    [change] = admin.get("/v1/audit", params={"action": "person.disable"}).json()
    assert change["detail"]["sessions_ended"] == 1


def test_api_key_sign_in_can_be_turned_off(db_url: str, clock: FixedClock, forge: Forge) -> None:
    built = sso_container(db_url, clock, forge.issuer, login_with_keys=False)
    try:
        client = browser(built)
        page = client.get("/login").text
        assert "Sign in with SSO" in page and 'name="api_key"' not in page
        token = make_key(built, Scope.ADMIN, name="admin")
        refused = client.post("/login", content=urlencode({"api_key": token}), headers=FORM)
        assert refused.status_code == 403 and "turned off" in refused.text
        assert client_for(built, token).get("/v1/incidents").status_code == 200  # the API still
    finally:
        built.close()


def test_without_sso_the_login_page_has_no_button_and_the_routes_say_so(
    container: Container,
) -> None:
    client = browser(container)
    assert "Sign in with SSO" not in client.get("/login").text
    missing = client.get("/login/oidc")
    assert missing.status_code == 404 and "not set up" in missing.text


def test_the_two_person_rule_holds_across_a_key_and_an_sso_session(
    container: Container, api: TestClient, railway: RailwayState, forge: Forge
) -> None:
    """A rollback ana asked for with her key cannot be approved by ana signed in with SSO."""
    container.adapters.identity = OidcProvider(
        forge.issuer, CLIENT_ID, CLIENT_SECRET, "groups", httpx.Client(timeout=10)
    )
    container.settings.oidc_role_map = "oncall=deployer"
    person(api, "ana", "deployer")
    token = api.post(
        "/v1/keys", json={"name": "ana-laptop", "scopes": ["deploy", "write"], "person": "ana"}
    ).json()["token"]
    incident_id, run_id = waiting_run(client_for(container, token), container, "rollback")
    client = browser(container)
    asked = begin(client)
    forge.id_token = forge.sign(forge.claims(asked["nonce"], groups=["oncall"]))
    assert back(client, asked["state"]).status_code == 303
    csrf = CSRF.search(client.get(f"/incidents/{incident_id}").text)
    assert csrf is not None
    approve = f"/incidents/{incident_id}/runs/{run_id}/approve"
    refused = client.post(approve, content=urlencode({"csrf": csrf.group(1)}), headers=FORM)
    assert refused.status_code == 409, refused.text
    assert "someone other than its requester (ana)" in refused.text
    assert api.get(f"/v1/orchestrate/runs/{run_id}").json()["status"] == "awaiting_approval"
