"""The lean `POST /v1/webhooks/{source}` route answers every vendor exactly as the FastAPI
route does: the same requests (valid, bad signature, bad JSON, unknown integration,
redelivery, unknown source) sent to both give the same status and body, and the same audit."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.entrypoints.api.app import create_app
from so1.entrypoints.api.lean_intake import LeanRoute
from tests.contract import payload
from tests.e2e.test_lean_intake import bearer, without_lean_routes
from tests.e2e.test_webhooks import PD_SECRET, add

SENTRY_SECRET = "sentry-client-secret"
BAD_JSON = b'{"event": {"event_type": "incident.triggered",'


@dataclass(frozen=True)
class Sent:
    """One request to a webhook: its body and headers."""

    source: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def pagerduty(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1={digest}", "X-Webhook-Id": delivery}


def sentry(container: Container, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": str(int(container.clock.now().timestamp())),
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


VENDORS: dict[AlertSource, tuple[str, str | None]] = {
    AlertSource.PAGERDUTY: ("pagerduty-webhooks-v3/01-incident-triggered.json", PD_SECRET),
    AlertSource.SENTRY: ("sentry/01-issue-created.json", SENTRY_SECRET),
    AlertSource.DATADOG: ("datadog/05-incident-template-ilert.SUBSTITUTED-triggered.json", None),
    AlertSource.ALERTMANAGER: ("alertmanager/01-firing-single-alert-am0.21.0-raw.json", None),
}


def signed(source: AlertSource, secret: str, body: bytes, container: Container) -> Sent:
    """``body`` with the credentials ``source`` expects, made with ``secret``."""
    headers = {"Content-Type": "application/json"}
    if source is AlertSource.PAGERDUTY:
        headers |= pagerduty(secret, body, "wh-1")
    elif source is AlertSource.SENTRY:
        headers |= sentry(container, secret, body)
    elif source is AlertSource.DATADOG:
        headers["X-SO1-Token"] = secret
    else:
        headers |= bearer(secret)
    return Sent(source.value, body, headers)


@pytest.fixture
def clients(container: Container, admin_token: str) -> Iterator[tuple[TestClient, TestClient]]:
    """(lean, fastapi_only) over the same container, triage left to the test."""
    container.settings.triage_worker = False
    lean = TestClient(create_app(container), raise_server_exceptions=False)
    plain = TestClient(without_lean_routes(create_app(container)), raise_server_exceptions=False)
    with lean, plain:
        for client in (lean, plain):
            client.headers["Authorization"] = f"Bearer {admin_token}"
        yield lean, plain


def answers(clients: tuple[TestClient, TestClient], sent: Sent) -> list[tuple[int, object]]:
    """(status, body) from the lean route then the FastAPI route, headers as sent."""
    path = f"/v1/webhooks/{sent.source}"
    replies = [c.post(path, content=sent.body, headers=sent.headers) for c in clients]
    return [(r.status_code, r.json()) for r in replies]


def without_alert_ids(answer: tuple[int, object]) -> tuple[int, object]:
    """A 202's body with each new alert's (random) id reduced to its prefix."""
    status, body = answer
    assert isinstance(body, dict)
    alerts = [{**a, "alert_id": a["alert_id"][:4]} for a in body["alerts"]]
    return status, {**body, "alerts": alerts}


def test_the_webhook_route_is_lean(clients: tuple[TestClient, TestClient]) -> None:
    lean, plain = clients
    lean_paths = [r.path for r in lean.app.router.routes if isinstance(r, LeanRoute)]  # type: ignore[attr-defined]
    assert "/v1/webhooks/{source}" in lean_paths
    assert not any(isinstance(r, LeanRoute) for r in plain.app.router.routes)  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", VENDORS.keys(), ids=lambda s: s.value)
def test_every_answer_is_the_fastapi_answer(
    clients: tuple[TestClient, TestClient], container: Container, source: AlertSource
) -> None:
    reference, secret = VENDORS[source]
    body = payload(reference)
    unknown = answers(clients, signed(source, secret or "no-such-token", body, container))
    assert unknown[0] == unknown[1] and unknown[0][0] in (401, 403)
    secret = add(container, source, secret)
    valid = signed(source, secret, body, container)
    forged = signed(source, secret + "x", body, container)
    bad_json = signed(source, secret, BAD_JSON, container)
    refused = [answers(clients, sent) for sent in (forged, bad_json)]
    for lean_answer, plain_answer in refused:
        assert lean_answer == plain_answer and 400 <= lean_answer[0] < 500
    first_lean, first_plain = answers(clients, valid)  # the FastAPI route's is a redelivery
    assert first_lean[0] == first_plain[0] == 202 and first_lean != first_plain
    for pair in (clients, clients[::-1]):  # a redelivery to either path, after either path
        again = answers(pair, valid)
        assert again[0] == again[1] == first_plain
    audited = clients[0].get("/v1/audit?action=webhook.refused").json()
    invalid = clients[0].get("/v1/audit?action=webhook.invalid").json()
    assert len(audited) + len(invalid) == 6  # three refusals, audited once on each path
    assert len(audited) % 2 == len(invalid) % 2 == 0


def test_a_first_delivery_is_answered_alike_on_either_path(
    clients: tuple[TestClient, TestClient], container: Container
) -> None:
    secret = add(container, AlertSource.ALERTMANAGER)
    firing = payload("alertmanager/01-firing-single-alert-am0.21.0-raw.json")
    lean, plain = clients
    first = lean.post("/v1/webhooks/alertmanager", content=firing, headers=bearer(secret))
    other = firing.replace(b"8a07086b74f3ba78", b"8a07086b74f3ba79")  # another alert
    second = plain.post("/v1/webhooks/alertmanager", content=other, headers=bearer(secret))
    assert first.status_code == second.status_code == 202
    expected = without_alert_ids((202, first.json()))[1]
    assert isinstance(expected, dict)
    expected["alerts"][0]["dedup_key"] = "8a07086b74f3ba79"
    assert without_alert_ids((202, second.json())) == (202, expected)
    assert first.json()["alerts"][0]["alert_id"] != second.json()["alerts"][0]["alert_id"]


@pytest.mark.parametrize("path", ["/v1/webhooks/nagios", "/v1/webhooks/events"])
def test_a_path_without_a_webhook_is_answered_alike(
    clients: tuple[TestClient, TestClient], path: str
) -> None:
    lean, plain = (c.post(path, content=b"{}") for c in clients)
    assert (lean.status_code, lean.json()) == (plain.status_code, plain.json())
    assert lean.status_code in (404, 422)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_method_is_answered_alike(
    clients: tuple[TestClient, TestClient], method: str
) -> None:
    lean, plain = (c.request(method, "/v1/webhooks/pagerduty") for c in clients)
    assert (lean.status_code, lean.text) == (plain.status_code, plain.text)
    assert lean.status_code == 405
    assert lean.headers.get("allow") == plain.headers.get("allow")
