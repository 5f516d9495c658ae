"""Vendor webhooks and Events v2 end to end through HTTP, with the vendors' documented
payloads and signature vectors (tests/contract covers the parsers in detail)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
from tests.contract import payload, signature_vectors

PD_SECRET = "HvPtlQNKMPpHSSqJpCdndXfo7HnGXa1pnH6w5axpxLFn9aRBNBGh4e8/HlonK5mz"


def add(
    container: Container, source: AlertSource, secret: str | None = None, name: str | None = None
) -> str:
    created = integrations.add_integration(
        container.uow, container.clock, Actor("t"), source, name or source.value, secret
    )
    return created.secret


@pytest.fixture
def hooks(alerts_api: TestClient) -> TestClient:
    return alerts_api


def pd_signature(name: str) -> str:
    """The published valid signature of a reference PagerDuty delivery."""
    rows = signature_vectors()
    return next(
        r["header_value"]
        for r in rows
        if r["file"] == f"pagerduty-webhooks-v3/{name}" and r["expect"] == "valid"
    )


def pd_headers(name: str, webhook_id: str = "wh-1") -> dict[str, str]:
    return {
        "X-PagerDuty-Signature": pd_signature(name),
        "X-Webhook-Id": webhook_id,
        "Content-Type": "application/json",
    }


def test_pagerduty_lifecycle_from_real_deliveries(hooks: TestClient, container: Container) -> None:
    add(container, AlertSource.PAGERDUTY, PD_SECRET)
    bodies = [
        "01-incident-triggered.json",
        "02-incident-acknowledged.json",
        "03-incident-resolved.json",
        "04-incident-annotated.json",
    ]
    outcomes = []
    for n, name in enumerate(bodies):
        response = hooks.post(
            "/v1/webhooks/pagerduty",
            content=payload(f"pagerduty-webhooks-v3/{name}"),
            headers=pd_headers(name, f"wh-{n}"),
        )
        assert response.status_code == 202, response.text
        outcomes.append(response.json()["alerts"][0]["outcome"])
    assert outcomes == ["created", "acknowledged", "resolved", "annotated"]
    alerts = hooks.get("/v1/alerts?source=pagerduty").json()
    assert alerts["total"] == 1
    assert alerts["items"][0]["dedup_key"] == "Q2CKYRLH85UNN4"
    assert alerts["items"][0]["status"] == "resolved"


def test_pagerduty_redelivery_and_bad_signatures(hooks: TestClient, container: Container) -> None:
    add(container, AlertSource.PAGERDUTY, PD_SECRET)
    body = payload("pagerduty-webhooks-v3/01-incident-triggered.json")
    headers = pd_headers("01-incident-triggered.json")
    assert (
        hooks.post("/v1/webhooks/pagerduty", content=body, headers=headers).json()["status"]
        == "accepted"
    )
    again = hooks.post("/v1/webhooks/pagerduty", content=body, headers=headers)
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert hooks.get("/v1/alerts").json()["items"][0]["dedup_count"] == 1
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    assert (
        hooks.post(
            "/v1/webhooks/pagerduty",
            content=reformatted,
            headers={**headers, "X-Webhook-Id": "wh-2"},
        ).status_code
        == 403
    )
    no_header = {k: v for k, v in headers.items() if k != "X-PagerDuty-Signature"}
    assert hooks.post("/v1/webhooks/pagerduty", content=body, headers=no_header).status_code == 400
    refusals = hooks.get("/v1/audit?action=webhook.refused").json()
    assert len(refusals) == 2
    assert all(r["outcome"] == "denied" for r in refusals)


def test_pagerduty_rotation_accepts_either_secret(hooks: TestClient, container: Container) -> None:
    add(container, AlertSource.PAGERDUTY, "a-completely-different-secret", name="new")
    add(container, AlertSource.PAGERDUTY, PD_SECRET, name="old")
    body = payload("pagerduty-webhooks-v3/01-incident-triggered.json")
    header = (
        "v1=" + "0" * 64 + "," + pd_headers("01-incident-triggered.json")["X-PagerDuty-Signature"]
    )
    response = hooks.post(
        "/v1/webhooks/pagerduty",
        content=body,
        headers={"X-PagerDuty-Signature": header, "X-Webhook-Id": "r"},
    )
    assert response.status_code == 202


def test_datadog_token_and_template(hooks: TestClient, container: Container) -> None:
    token = add(container, AlertSource.DATADOG)
    body = payload("datadog/05-incident-template-ilert.SUBSTITUTED-triggered.json")
    assert hooks.post("/v1/webhooks/datadog", content=body).status_code == 401
    assert (
        hooks.post(
            "/v1/webhooks/datadog", content=body, headers={"X-SO1-Token": "wrong"}
        ).status_code
        == 401
    )
    ok = hooks.post("/v1/webhooks/datadog", content=body, headers={"X-SO1-Token": token})
    assert ok.status_code == 202
    assert ok.json()["alerts"][0]["dedup_key"] == "1234"
    recovered = payload("datadog/06-incident-template-ilert.SUBSTITUTED-recovered.json")
    done = hooks.post("/v1/webhooks/datadog", content=recovered, headers={"X-SO1-Token": token})
    assert done.json()["alerts"][0]["outcome"] == "resolved"
    form = hooks.post(
        "/v1/webhooks/datadog",
        content=b"title=x&alert_id=1",
        headers={"X-SO1-Token": token, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 400


def test_sentry_signature_and_freshness(hooks: TestClient, container: Container) -> None:
    secret = add(container, AlertSource.SENTRY, "sentry-client-secret")
    body = payload("sentry/01-issue-created.json")
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    now = str(int(container.clock.now().timestamp()))
    headers = {
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": now,
        "Sentry-Hook-Signature": signature,
        "Content-Type": "application/json",
    }
    ok = hooks.post("/v1/webhooks/sentry", content=body, headers=headers)
    assert ok.status_code == 202
    assert ok.json()["alerts"][0]["dedup_key"] == "1170820242"
    stale = {**headers, "Sentry-Hook-Timestamp": str(int(container.clock.now().timestamp()) - 301)}
    assert hooks.post("/v1/webhooks/sentry", content=body, headers=stale).status_code == 401
    upper = {**headers, "Sentry-Hook-Signature": signature.upper()}
    assert hooks.post("/v1/webhooks/sentry", content=body, headers=upper).status_code == 401


def test_alertmanager_bearer_and_per_alert_status(hooks: TestClient, container: Container) -> None:
    token = add(container, AlertSource.ALERTMANAGER)
    body = payload("alertmanager/02-firing-group-containing-one-resolved-alert.json")
    assert hooks.post("/v1/webhooks/alertmanager", content=body).status_code == 401
    response = hooks.post(
        "/v1/webhooks/alertmanager", content=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 202
    outcomes = sorted(a["outcome"] for a in response.json()["alerts"])
    assert outcomes == ["created", "dropped"]  # the resolved one was never open here


def test_unknown_source_is_422(hooks: TestClient) -> None:
    assert hooks.post("/v1/webhooks/nagios", content=b"{}").status_code == 422


def test_events_v2_enqueue_speaks_pagerduty(hooks: TestClient, container: Container) -> None:
    key = add(container, AlertSource.EVENTS)
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "srv01/mysql",
        "payload": {
            "summary": "DISK at 99%",
            "source": "prod-datapipe03",
            "severity": "critical",
            "component": "mysql",
        },
    }
    response = hooks.post("/v2/enqueue", json=event)
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "srv01/mysql",
    }
    bad = hooks.post("/v2/enqueue", json={**event, "event_action": "explode"})
    assert bad.status_code == 400
    assert bad.json()["status"] == "invalid event"
    assert bad.json()["errors"]
    wrong_key = hooks.post("/v2/enqueue", json={**event, "routing_key": "0" * 32})
    assert wrong_key.status_code == 400
    other_key = add(container, AlertSource.EVENTS, name="other")
    stolen = hooks.post(
        "/v2/enqueue",
        json={"routing_key": other_key, "event_action": "resolve", "dedup_key": "srv01/mysql"},
    )
    assert stolen.status_code == 202
    assert hooks.get("/v1/alerts?source=events").json()["items"][0]["status"] == "firing"


def test_events_v2_rate_limit(hooks: TestClient, container: Container) -> None:
    from so1.adapters.ratelimit import RateLimiter

    container.intake.limiter = RateLimiter(per_minute=3)
    key = add(container, AlertSource.EVENTS)
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "info"},
    }
    codes = [hooks.post("/v2/enqueue", json=event).status_code for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]


def test_change_events_become_deployment_records(hooks: TestClient, container: Container) -> None:
    key = add(container, AlertSource.EVENTS)
    change = json.loads(payload("pagerduty-events-v2/05-change-event-developer-docs.json"))
    change["routing_key"] = key
    change["payload"].pop("timestamp", None)  # the docs' example is years old
    response = hooks.post("/v2/change/enqueue", json=change)
    assert response.status_code == 202, response.text
    recent = hooks.get("/v1/deployments/recent?hours=1").json()["deployments"]
    assert recent[0]["platform"] == "pagerduty-change"
    assert hooks.get("/v1/alerts").json()["total"] == 0


def test_unstorable_characters_in_vendor_payloads_are_kept_not_refused(
    hooks: TestClient, container: Container
) -> None:
    token = add(container, AlertSource.DATADOG)
    document = json.loads(payload("datadog/05-incident-template-ilert.SUBSTITUTED-triggered.json"))
    document["title"] = "[Triggered] bad \u0000 bytes \ud800 here"
    body = json.dumps(document).encode()  # ASCII escapes, as a sender would produce
    response = hooks.post("/v1/webhooks/datadog", content=body, headers={"X-SO1-Token": token})
    assert response.status_code == 202, response.text
    alert = hooks.get(f"/v1/alerts/{response.json()['alerts'][0]['alert_id']}").json()
    assert "\ufffd" in alert["summary"]
    assert "\u0000" not in alert["summary"]
