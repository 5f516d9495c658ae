"""Single sign-on against a real, certified OpenID provider: panva's oidc-provider on Node.js
(tests/oidc_provider), on loopback, with fixed users carrying email, email_verified and
groups. In headless Chromium against a real `so1 serve`: sign in at the provider, land on the
dashboard as the person with the role their groups map to, acknowledge an incident and see
the person recorded. In-process: group-to-role mapping, a disabled person, an unverified
email, each refused with a page and an audit record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from tests.conftest import make_key
from tests.e2e.conftest import TOKEN_RE
from tests.e2e.deployer_support import client_for
from tests.e2e.oidc_support import CLIENT_ID, CLIENT_SECRET, oidc_provider, through_provider
from tests.e2e.test_browser import chrome, click, shot, text_of, waiter
from tests.e2e.test_processes import clean_env, free_port, serving
from tests.e2e.test_sso_tokens import ROLE_MAP, sso_container
from tests.e2e.test_web_pages import browser

__all__ = ["chrome"]  # the fixture, used by name below
IN_PROCESS_CALLBACK = "http://testserver/login/oidc/callback"


@pytest.mark.slow
def test_sign_in_at_the_provider_land_as_the_person_and_acknowledge(
    tmp_path: Path, chrome: WebDriver
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = clean_env(
        SO1_OIDC_ISSUER=issuer,
        SO1_OIDC_CLIENT_ID=CLIENT_ID,
        SO1_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        SO1_OIDC_ROLE_MAP=ROLE_MAP,
    )
    with (
        serving(tmp_path, env) as server,
        oidc_provider([f"{server.url}/login/oidc/callback"], port),
    ):
        auth = {"Authorization": f"Bearer {TOKEN_RE.findall(server.output())[0]}"}
        ana = {"handle": "ana", "role": "viewer", "email": "ana@example.test"}
        assert httpx.post(f"{server.url}/v1/people", json=ana, headers=auth).status_code == 201
        incident = httpx.post(
            f"{server.url}/v1/incidents",
            headers=auth,
            json={"title": "Checkout latency", "severity": "SEV2", "status": "investigating"},
            timeout=30,
        ).json()
        wait = waiter(chrome, 30)

        chrome.get(f"{server.url}/login")
        wait.until(ready.element_to_be_clickable((By.ID, "sso"))).click()
        login = wait.until(ready.presence_of_element_located((By.NAME, "login")))
        assert chrome.current_url.startswith(issuer)  # at the provider
        login.send_keys("ana")
        chrome.find_element(By.NAME, "password").send_keys("any password")
        click(chrome, wait, "button[type=submit]")  # then the consent page
        click(chrome, wait, "button[type=submit]")
        text_of(wait, "incidents-wrap", "Checkout latency")
        assert urlsplit(chrome.current_url).path == "/" and "ana" in chrome.page_source
        shot(chrome, "signed-in-with-sso")

        chrome.get(f"{server.url}/incidents/{incident['id']}")
        click(chrome, wait, "#acknowledgement button")
        text_of(wait, "acknowledgement", "by ana")
        found = httpx.get(f"{server.url}/v1/incidents/{incident['id']}", headers=auth).json()
        assert found["acknowledged_by"] == "ana"
        people = {p["handle"]: p for p in httpx.get(f"{server.url}/v1/people", headers=auth).json()}
        assert people["ana"]["role"] == "responder"  # the provider's group sre


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider([IN_PROCESS_CALLBACK]) as issuer:
        yield issuer


@pytest.fixture
def sso(db_url: str, clock: FixedClock, provider: str) -> Iterator[Container]:
    built = sso_container(db_url, clock, provider)
    yield built
    built.close()


def sign_in_as(container: Container, login: str) -> tuple[TestClient, httpx2.Response]:
    """Through /login/oidc, the provider's forms as ``login``, and back to the callback."""
    client = browser(container)
    sent = client.get("/login/oidc")
    assert sent.status_code == 303, sent.text
    back = urlsplit(through_provider(sent.headers["location"], login, IN_PROCESS_CALLBACK))
    return client, client.get(f"{back.path}?{back.query}")


def test_groups_map_to_the_highest_role_and_unmapped_groups_keep_it(sso: Container) -> None:
    admin = client_for(sso, make_key(sso, Scope.ADMIN, name="admin"))
    for handle, role in (("sec", "viewer"), ("plain", "deployer")):
        body = {"handle": handle, "role": role, "email": f"{handle}@example.test"}
        assert admin.post("/v1/people", json=body).status_code == 201
    client, landed = sign_in_as(sso, "sec")  # groups sre, security
    assert landed.status_code == 303 and landed.headers["location"] == "/", landed.text
    assert client.get("/").status_code == 200
    _, landed = sign_in_as(sso, "plain")  # group marketing: not mapped
    assert landed.status_code == 303
    people = {p["handle"]: p for p in admin.get("/v1/people").json()}
    assert people["sec"]["role"] == "security" and people["plain"]["role"] == "deployer"
    signed = admin.get("/v1/audit", params={"action": "auth.sso"}).json()
    assert {r["detail"]["person"] for r in signed} == {"sec", "plain"}


def test_a_disabled_person_and_an_unverified_email_are_refused(sso: Container) -> None:
    admin = client_for(sso, make_key(sso, Scope.ADMIN, name="admin"))
    for handle in ("dis", "unverified"):
        body = {"handle": handle, "role": "responder", "email": f"{handle}@example.test"}
        assert admin.post("/v1/people", json=body).status_code == 201
    assert admin.post("/v1/people/dis/disable").status_code == 200
    client, refused = sign_in_as(sso, "dis")
    assert refused.status_code == 401 and "(@dis) is disabled" in refused.text
    assert client.get("/").headers["location"] == "/login"
    _, refused = sign_in_as(sso, "unverified")
    assert refused.status_code == 401 and "has not verified the email" in refused.text
    failed = admin.get("/v1/audit", params={"action": "auth.failed"}).json()
    assert [r["detail"]["reason"] for r in failed] == ["email not verified", "person disabled"]


@pytest.fixture(scope="module")
def conforming_provider() -> Iterator[str]:
    """The provider's default: the id_token has just ``sub``; email and groups in userinfo."""
    with oidc_provider([IN_PROCESS_CALLBACK], claims_in_userinfo=True) as issuer:
        yield issuer


def test_email_and_groups_from_userinfo_when_the_id_token_has_none(
    db_url: str, clock: FixedClock, conforming_provider: str
) -> None:
    sso = sso_container(db_url, clock, conforming_provider)
    try:
        admin = client_for(sso, make_key(sso, Scope.ADMIN, name="admin"))
        body = {"handle": "sec", "role": "viewer", "email": "sec@example.test"}
        assert admin.post("/v1/people", json=body).status_code == 201
        client, landed = sign_in_as(sso, "sec")  # groups sre, security: in userinfo only
        assert landed.status_code == 303 and landed.headers["location"] == "/", landed.text
        people = {p["handle"]: p for p in admin.get("/v1/people").json()}
        assert people["sec"]["role"] == "security"
        assert client.get("/").status_code == 200
    finally:
        sso.close()
