"""The lean intake routes over HTTP: the bad-input checklist (docs: shared reference, section 10)
answered exactly as the FastAPI routes answer it, the same headers, limits and audit, and the
OpenAPI document unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from so1.entrypoints.api.lean_intake import LeanRoute
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor
from tests.conftest import make_key

ALERT = {
    "event_action": "trigger",
    "source": "prometheus",
    "dedup_key": "db-1:HighLatency",
    "service": "checkout",
    "summary": "p99 above 300 ms",
    "severity": "warning",
}
LEAN_PATHS = ["/v1/alerts", "/v1/webhooks/{source}", "/v2/enqueue", "/v2/change/enqueue"]


def without_lean_routes(app: FastAPI) -> FastAPI:
    """The application as it was before the lean routes: FastAPI answers everything."""
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, LeanRoute)]
    return app


@pytest.fixture
def writer_token(container: Container) -> str:
    return make_key(container, Scope.WRITE, name="writer")


@pytest.fixture
def clients(container: Container) -> Iterator[tuple[TestClient, TestClient]]:
    """(lean, fastapi_only) over the same container."""
    lean = TestClient(create_app(container), raise_server_exceptions=False)
    plain = TestClient(without_lean_routes(create_app(container)), raise_server_exceptions=False)
    with lean, plain:
        yield lean, plain


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_lean_routes_come_before_every_fastapi_route(api: TestClient) -> None:
    routes = api.app.router.routes  # type: ignore[attr-defined]
    first = [r.path for r in routes[: len(LEAN_PATHS)] if isinstance(r, LeanRoute)]
    assert first == LEAN_PATHS


BAD_BODIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "not JSON": (b'{"event_action": "trigger",', {}),
    "empty body": (b"", {}),
    "a list": (b"[1, 2]", {}),
    "text/plain JSON": (json.dumps(ALERT).encode(), {"Content-Type": "text/plain"}),
    "NaN": (json.dumps({**ALERT, "current_value": float("nan")}).encode(), {}),
    "unknown field": (json.dumps({**ALERT, "colour": "red"}).encode(), {}),
    "no source": (json.dumps({k: v for k, v in ALERT.items() if k != "source"}).encode(), {}),
    "long dedup_key": (json.dumps({**ALERT, "dedup_key": "k" * 256}).encode(), {}),
    "trigger without summary": (
        json.dumps({k: v for k, v in ALERT.items() if k != "summary"}).encode(),
        {},
    ),
    "resolve without dedup_key": (b'{"event_action": "resolve", "source": "s"}', {}),
    "unknown severity": (json.dumps({**ALERT, "severity": "SEV1"}).encode(), {}),
    "NUL in summary": (json.dumps({**ALERT, "summary": "a\x00b"}).encode(), {}),
    "naive timestamp": (json.dumps({**ALERT, "timestamp": "2024-01-15T14:40:00"}).encode(), {}),
    "details too deep": (
        json.dumps({**ALERT, "details": json.loads("[" * 40 + "]" * 40)}).encode(),
        {},
    ),
    "label not text": (json.dumps({**ALERT, "labels": {"team": 1}}).encode(), {}),
    "Idempotency-Key too long": (json.dumps(ALERT).encode(), {"Idempotency-Key": "k" * 256}),
}


@pytest.mark.parametrize("case", BAD_BODIES.keys())
def test_bad_alerts_get_the_answer_fastapi_gave(
    clients: tuple[TestClient, TestClient], admin_token: str, case: str
) -> None:
    body, headers = BAD_BODIES[case]
    lean, plain = clients
    sent = {"Content-Type": "application/json", **bearer(admin_token), **headers}
    answers = [c.post("/v1/alerts", content=body, headers=sent) for c in (lean, plain)]
    assert 400 <= answers[0].status_code < 500
    assert answers[0].status_code == answers[1].status_code
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers["content-type"] == "application/problem+json"
    listed = lean.get("/v1/alerts", headers=bearer(admin_token)).json()
    assert listed["total"] == 0


@pytest.mark.parametrize("path", LEAN_PATHS)
def test_a_body_over_the_cap_is_413_on_every_lean_route(
    anon: TestClient, container: Container, writer_token: str, path: str
) -> None:
    too_big = b"{" + b" " * container.settings.max_body_bytes + b"}"
    sent_to = path.format(source="sentry")
    response = anon.post(sent_to, content=too_big, headers=bearer(writer_token))
    assert response.status_code == 413
    assert response.json()["title"] == "Payload too large"


def test_every_kind_of_bad_key_is_401_and_audited(
    clients: tuple[TestClient, TestClient], container: Container, clock: FixedClock
) -> None:
    lean, plain = clients
    good = make_key(container, Scope.WRITE)
    revoked = make_key(container, Scope.WRITE)
    access.revoke_key(container.uow, clock, Actor("t"), revoked.split("_")[1])
    expiring = access.create_key(
        container.uow,
        clock,
        Actor("t"),
        "exp",
        frozenset({Scope.WRITE}),
        expires_at=clock.now() + timedelta(minutes=1),
    ).token
    clock.advance(timedelta(minutes=2))
    tokens = {"missing": None, "wrong secret": good[:-3] + "abc", "revoked": revoked}
    tokens["expired"] = expiring
    for why, token in tokens.items():
        headers = bearer(token) if token else {}
        answers = [c.post("/v1/alerts", json=ALERT, headers=headers) for c in (lean, plain)]
        assert answers[0].status_code == 401, why
        assert answers[0].json() == answers[1].json(), why
        assert answers[0].headers["www-authenticate"] == answers[1].headers["www-authenticate"]
    admin = make_key(container, Scope.ADMIN)
    failures = lean.get("/v1/audit?action=auth.failed", headers=bearer(admin)).json()
    assert len(failures) == 2 * len(tokens)  # each refusal audited once, by either route
    assert lean.post("/v1/alerts", json=ALERT, headers=bearer(good)).status_code == 202


def test_a_key_without_write_is_403_and_audited(anon: TestClient, container: Container) -> None:
    reader = make_key(container, Scope.READ, name="reader")
    response = anon.post("/v1/alerts", json=ALERT, headers=bearer(reader))
    assert response.status_code == 403
    assert response.json()["detail"] == "this key lacks the 'write' scope"
    admin = make_key(container, Scope.ADMIN)
    denied = anon.get("/v1/audit?action=auth.forbidden", headers=bearer(admin)).json()
    assert [d["detail"]["request"] for d in denied] == ["POST /v1/alerts"]


def test_an_accepted_alert_is_stored_before_the_202_with_the_same_keys(
    clients: tuple[TestClient, TestClient], writer_token: str, admin_token: str
) -> None:
    lean, plain = clients
    first = lean.post("/v1/alerts", json=ALERT, headers=bearer(writer_token))
    again = plain.post("/v1/alerts", json=ALERT, headers=bearer(writer_token))
    assert first.status_code == again.status_code == 202
    assert first.json().keys() == again.json().keys()
    assert (first.json()["outcome"], again.json()["outcome"]) == ("created", "duplicate")
    stored = lean.get(f"/v1/alerts/{first.json()['alert_id']}", headers=bearer(admin_token))
    assert stored.json()["dedup_count"] == 2
    for header in ("x-content-type-options", "referrer-policy", "content-security-policy"):
        assert first.headers[header] == again.headers[header]


def test_idempotency_key_replays_and_refuses_another_body(
    anon: TestClient, writer_token: str
) -> None:
    headers = {**bearer(writer_token), "Idempotency-Key": "retry-1"}
    first = anon.post("/v1/alerts", json=ALERT, headers=headers)
    replay = anon.post("/v1/alerts", json=ALERT, headers=headers)
    assert first.status_code == replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json() and replay.json()["dedup_count"] == 1
    other = anon.post("/v1/alerts", json={**ALERT, "summary": "else"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["title"] == "Idempotency key reused"


def test_identical_deliveries_at_once_make_one_alert(anon: TestClient, writer_token: str) -> None:
    def send(_: int) -> Any:
        return anon.post("/v1/alerts", json=ALERT, headers=bearer(writer_token)).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert len({a["alert_id"] for a in answers}) == 1
    assert sorted(a["dedup_count"] for a in answers) == list(range(1, 17))


def test_openapi_still_describes_the_lean_routes(anon: TestClient) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    body = paths["/v1/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AlertIn"}
    assert {"/v1/webhooks/{source}", "/v2/enqueue", "/v2/change/enqueue"} <= paths.keys()
    assert "intake" in paths["/v2/enqueue"]["post"]["tags"]
