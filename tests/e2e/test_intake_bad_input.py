"""The bad-input checklist for intake, over HTTP: every rejection is a clear 4xx, leaves an
audit record where a sender was refused, and stores nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
from tests.contract import payload

SECRETS = {
    AlertSource.PAGERDUTY: "pd-test-secret-0001",
    AlertSource.SENTRY: "sentry-test-secret-0001",
    AlertSource.DATADOG: "datadog-test-token-0001",
    AlertSource.ALERTMANAGER: "alertmanager-test-token-0001",
}
PD_BODY = payload("pagerduty-webhooks-v3/01-incident-triggered.json")
SENTRY_BODY = payload("sentry/01-issue-created.json")
DD_BODY = payload("datadog/05-incident-template-ilert.SUBSTITUTED-triggered.json")
AM_BODY = payload("alertmanager/01-firing-single-alert-am0.21.0-raw.json")


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Case:
    name: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 401
    audited: bool = True


def sentry_headers(body: bytes, age: int = 0, signature: str | None = None) -> dict[str, str]:
    now = 1705329900  # the container clock: 2024-01-15T14:45:00Z
    return {
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": str(now - age),
        "Sentry-Hook-Signature": signature or sign(SECRETS[AlertSource.SENTRY], body),
    }


PD_GOOD = "v1=" + sign(SECRETS[AlertSource.PAGERDUTY], PD_BODY)
CASES = [
    Case("pagerduty: signature missing", "/v1/webhooks/pagerduty", PD_BODY, {}, 400),
    Case(
        "pagerduty: no v1= prefix",
        "/v1/webhooks/pagerduty",
        PD_BODY,
        {"X-PagerDuty-Signature": PD_GOOD.removeprefix("v1=")},
        400,
    ),
    Case(
        "pagerduty: wrong signature",
        "/v1/webhooks/pagerduty",
        PD_BODY,
        {"X-PagerDuty-Signature": "v1=" + "0" * 64},
        403,
    ),
    Case(
        "pagerduty: whitespace-altered body",
        "/v1/webhooks/pagerduty",
        json.dumps(json.loads(PD_BODY), indent=1).encode(),
        {"X-PagerDuty-Signature": PD_GOOD},
        403,
    ),
    Case(
        "pagerduty: signed but not JSON",
        "/v1/webhooks/pagerduty",
        b"not json",
        {"X-PagerDuty-Signature": "v1=" + sign(SECRETS[AlertSource.PAGERDUTY], b"not json")},
        400,
    ),
    Case(
        "pagerduty: signed, wrong types",
        "/v1/webhooks/pagerduty",
        b'{"event": []}',
        {"X-PagerDuty-Signature": "v1=" + sign(SECRETS[AlertSource.PAGERDUTY], b'{"event": []}')},
        400,
    ),
    Case(
        "sentry: stale timestamp",
        "/v1/webhooks/sentry",
        SENTRY_BODY,
        sentry_headers(SENTRY_BODY, age=301),
    ),
    Case(
        "sentry: non-numeric timestamp",
        "/v1/webhooks/sentry",
        SENTRY_BODY,
        {**sentry_headers(SENTRY_BODY), "Sentry-Hook-Timestamp": "soon"},
    ),
    Case(
        "sentry: sha256= prefix",
        "/v1/webhooks/sentry",
        SENTRY_BODY,
        sentry_headers(
            SENTRY_BODY, signature="sha256=" + sign(SECRETS[AlertSource.SENTRY], SENTRY_BODY)
        ),
    ),
    Case(
        "sentry: signature missing",
        "/v1/webhooks/sentry",
        SENTRY_BODY,
        {k: v for k, v in sentry_headers(SENTRY_BODY).items() if k != "Sentry-Hook-Signature"},
    ),
    Case("datadog: token missing", "/v1/webhooks/datadog", DD_BODY, {}),
    Case(
        "datadog: wrong token", "/v1/webhooks/datadog", DD_BODY, {"X-SO1-Token": "nope-nope-nope"}
    ),
    Case(
        "datadog: form-encoded",
        "/v1/webhooks/datadog",
        b"alert_id=1&title=x",
        {
            "X-SO1-Token": SECRETS[AlertSource.DATADOG],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        400,
    ),
    Case(
        "datadog: unexpanded alert id",
        "/v1/webhooks/datadog",
        DD_BODY.replace(b'"alert_id": "1234"', b'"alert_id": "$ALERT_ID"'),
        {"X-SO1-Token": SECRETS[AlertSource.DATADOG]},
        422,
    ),
    Case("alertmanager: no bearer", "/v1/webhooks/alertmanager", AM_BODY, {}),
    Case(
        "alertmanager: wrong bearer",
        "/v1/webhooks/alertmanager",
        AM_BODY,
        {"Authorization": "Bearer wrong-token-value"},
    ),
    Case("unknown source", "/v1/webhooks/nagios", AM_BODY, {}, 422, audited=False),
    Case("events v2: missing fields", "/v2/enqueue", b'{"event_action":"trigger"}', {}, 400),
    Case(
        "events v2: wrong types",
        "/v2/enqueue",
        b'{"routing_key":7,"event_action":"trigger","payload":{"summary":1,"source":"x","severity":"loud"}}',
        {},
        400,
    ),
]


@pytest.fixture
def senders(alerts_api: TestClient, container: Container) -> TestClient:
    for source, secret in SECRETS.items():
        integrations.add_integration(
            container.uow, container.clock, Actor("t"), source, source.value, secret
        )
    return alerts_api


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_rejections(senders: TestClient, case: Case) -> None:
    before = len(senders.get("/v1/audit?limit=500").json())
    response = senders.post(case.path, content=case.body, headers=case.headers)
    assert response.status_code == case.status, response.text
    assert response.json().get("detail") or response.json().get("errors")
    assert senders.get("/v1/alerts").json()["total"] == 0
    refusals = [
        r
        for r in senders.get("/v1/audit?limit=500").json()[: -before or None]
        if r["outcome"] == "denied"
    ]
    assert bool(refusals) is case.audited


def test_oversize_body_is_413_before_parsing(senders: TestClient, container: Container) -> None:
    body = b"{" + b" " * container.settings.max_body_bytes + b"}"
    for path in ("/v1/webhooks/pagerduty", "/v1/webhooks/datadog", "/v2/enqueue", "/v1/alerts"):
        assert senders.post(path, content=body).status_code == 413


def test_accepted_deliveries_are_all_kept(senders: TestClient, container: Container) -> None:
    headers = {"X-SO1-Token": SECRETS[AlertSource.DATADOG]}
    assert senders.post("/v1/webhooks/datadog", content=DD_BODY, headers=headers).status_code == 202
    from sqlalchemy import select

    from so1.adapters.db import intake_tables

    with container.engine.connect() as conn:
        stored = conn.execute(
            select(intake_tables.deliveries.c.body, intake_tables.deliveries.c.headers)
        ).all()
    assert [row.body for row in stored] == [DD_BODY]
    assert "x-so1-token" not in stored[0].headers
