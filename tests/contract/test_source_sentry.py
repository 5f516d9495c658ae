"""Sentry integration-platform adapter against the documented and example-app payloads."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings, strategies as st

from so1.adapters.sources.sentry import SentryAdapter
from so1.domain.alerts import AlertAction, AlertSource, SeverityHint
from so1.errors import MalformedRequest, Unauthorized
from tests.contract import NOW, compact, inbound, mutated_body, payload, payload_json, payload_names

ADAPTER = SentryAdapter()
VENDOR = "sentry"
SECRET = "sentry-client-secret"
STAMP = str(int(NOW.timestamp()))
# integrations.md §4: the example body as one compact line, signed with "sentry-test-secret".
DOC_BODY = (
    b'{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},'
    b'"data":{"issue":{"id":"1170820242","shortId":"FRONT-END-9",'
    b'"title":"ReferenceError: blooopy is not defined","level":"error","status":"unresolved",'
    b'"substatus":"escalating","project":{"id":"1","slug":"front-end"}}},'
    b'"actor":{"type":"application","id":"sentry","name":"Sentry"}}'
)
DOC_SIGNATURE = "9155f67c9bd041775ca7778aad33ae95069fb5316693aa2fcb65cfece3cb1857"

T, R, A = AlertAction.TRIGGER, AlertAction.RESOLVE, AlertAction.ANNOTATE
# file → (resource, action, dedup_key, service, severity, delivery_key); action None: ignored.
EXPECTED: dict[str, tuple[str, AlertAction | None, str, str | None, SeverityHint | None, str]] = {
    "01-issue-created.json": (
        "issue", T, "1170820242", "front-end", SeverityHint.ERROR, "issue:created:1170820242"
    ),
    "02-event-alert-triggered.json": (
        "event_alert", T, "1117540176", "front-end", SeverityHint.ERROR,
        "event_alert:triggered:1117540176:e4874d664c3540c1a32eab185f12c5ab",
    ),
    "03-metric-alert-resolved.json": (
        "metric_alert", R, "metric:4", "bar", None, "metric_alert:resolved:4"
    ),
    "04-issue-resolved.example-app-mock.json": (
        "issue", R, "123", "ipe", SeverityHint.ERROR, "issue:resolved:123"
    ),
    "05-issue-assigned.example-app-mock.json": (
        "issue", A, "123", "ipe", SeverityHint.ERROR, "issue:assigned:123"
    ),
    "06-issue-ignored.example-app-mock.json": (
        "issue", R, "123", "ipe", SeverityHint.ERROR, "issue:ignored:123"
    ),
    "07-event-alert-triggered-with-alert-rule-action.example-app-mock.json": (
        "event_alert", T, "123", None, None, "event_alert:triggered:123:def456"
    ),
    "08-metric-alert-critical.example-app-mock.json": (
        "metric_alert", T, "metric:789", None, SeverityHint.CRITICAL, "metric_alert:critical:789"
    ),
    "09-metric-alert-warning.example-app-mock.json": (
        "metric_alert", T, "metric:789", None, SeverityHint.WARNING, "metric_alert:warning:789"
    ),
    "10-metric-alert-resolved.example-app-mock.json": (
        "metric_alert", R, "metric:789", None, None, "metric_alert:resolved:789"
    ),
    "11-installation-created.example-app-mock.json": ("installation", None, "", None, None, ""),
}  # fmt: skip


def headers(body: bytes, resource: str = "issue", **extra: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    base = {
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": STAMP,
        "Sentry-Hook-Signature": digest,
        "Request-ID": "7a1c4f0e-0000-4000-8000-000000000001",
    }
    return {**base, **extra}


def test_every_reference_payload_has_an_expectation() -> None:
    assert sorted(f"{VENDOR}/{name}" for name in EXPECTED) == payload_names(VENDOR)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_payload_handling(name: str) -> None:
    resource, action, dedup_key, service, severity, delivery_key = EXPECTED[name]
    body = payload(f"{VENDOR}/{name}")
    request = inbound(body, headers(body, resource))
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, SECRET)
    delivery = ADAPTER.parse(request)
    if action is None:
        assert delivery.events == []
        assert delivery.ignored_reason
        return
    assert delivery.delivery_key == delivery_key
    [event] = delivery.events
    assert event.source is AlertSource.SENTRY
    assert (event.action, event.dedup_key, event.service) == (action, dedup_key, service)
    assert event.severity_hint is severity
    assert event.summary


def test_issue_details_follow_the_action() -> None:
    names = sorted(EXPECTED)
    parsed = {
        name: ADAPTER.parse(inbound(payload(f"{VENDOR}/{name}"), headers(b""))).events[0]
        for name in (names[3], names[4], names[5])
    }
    resolved, assigned, ignored = parsed.values()
    assert "reason" not in resolved.details
    assert assigned.summary == "Assigned to Person"
    assert assigned.details["assignee"] == {"name": "Person", "email": "person@example.com"}
    assert ignored.details["reason"] == "ignored"
    assert ignored.labels == {"short_id": "IPE-1", "level": "error"}


def test_event_alert_carries_the_rule() -> None:
    body = payload(f"{VENDOR}/02-event-alert-triggered.json")
    [event] = ADAPTER.parse(inbound(body, headers(body, "event_alert"))).events
    assert event.labels["rule"] == "Very Important Alert Rule!"
    assert event.summary == "ReferenceError: heck is not defined"
    assert event.links[0].startswith("https://sentry.io/organizations/test-org/issues/1117540176/")


def test_metric_alert_fields() -> None:
    body = payload(f"{VENDOR}/03-metric-alert-resolved.json")
    [event] = ADAPTER.parse(inbound(body, headers(body, "metric_alert"))).events
    assert (event.summary, event.metric) == ("Resolved: Too many errors", "count()")
    assert event.details["rule_id"] == "7"
    assert event.links == ["https://sentry.io/organizations/baz/alerts/1/"]


def test_metric_keys_cannot_collide_with_issue_ids() -> None:
    metric = {"action": "critical", "data": {"metric_alert": {"id": "123"}}}
    issue = {"action": "created", "data": {"issue": {"id": "123"}}}
    [m] = ADAPTER.parse(inbound(compact(metric), headers(b"", "metric_alert"))).events
    [i] = ADAPTER.parse(inbound(compact(issue), headers(b"", "issue"))).events
    assert m.dedup_key != i.dedup_key


def test_integrations_md_vector_over_the_compact_body() -> None:
    request = inbound(DOC_BODY, {**headers(DOC_BODY), "Sentry-Hook-Signature": DOC_SIGNATURE})
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, "sentry-test-secret")
    assert not ADAPTER.verify(request, SECRET)
    [event] = ADAPTER.parse(request).events
    assert (event.dedup_key, event.service) == ("1170820242", "front-end")


@pytest.mark.parametrize(
    ("signature", "valid"),
    [
        (DOC_SIGNATURE, True),
        (f"sha256={DOC_SIGNATURE}", False),  # not what Sentry sends: refused, not normalised
        (DOC_SIGNATURE.upper(), False),
        (DOC_SIGNATURE[:-1] + "0", False),
        (DOC_SIGNATURE[:32], False),
        ("é" * 64, False),
    ],
)
def test_only_bare_lowercase_hex_verifies(signature: str, valid: bool) -> None:
    request = inbound(DOC_BODY, {**headers(DOC_BODY), "Sentry-Hook-Signature": signature})
    assert ADAPTER.verify(request, "sentry-test-secret") is valid


def test_legacy_app_signature_header_is_accepted() -> None:
    base = {k: v for k, v in headers(DOC_BODY).items() if k != "Sentry-Hook-Signature"}
    request = inbound(DOC_BODY, {**base, "Sentry-App-Signature": DOC_SIGNATURE})
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, "sentry-test-secret")


def test_reserialized_body_fails_verification() -> None:
    body = payload(f"{VENDOR}/01-issue-created.json")
    sent = headers(body)
    assert ADAPTER.verify(inbound(body, sent), SECRET)
    for altered in (compact(json.loads(body)), json.dumps(json.loads(body)).encode(), body + b" "):
        assert not ADAPTER.verify(inbound(altered, sent), SECRET)


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        (None, "missing"),
        ("", "epoch seconds"),
        ("abc", "epoch seconds"),
        ("nan", "epoch seconds"),
        ("inf", "epoch seconds"),
        ("1e9", "epoch seconds"),
        ("-5", "epoch seconds"),
        (str(int((NOW - timedelta(seconds=301)).timestamp())), "away"),
        (str(int((NOW + timedelta(seconds=301)).timestamp())), "away"),
        ("0", "away"),
    ],
)
def test_stale_missing_or_non_numeric_timestamp_is_401(timestamp: str | None, message: str):
    sent = headers(DOC_BODY)
    del sent["Sentry-Hook-Timestamp"]
    if timestamp is not None:
        sent["Sentry-Hook-Timestamp"] = timestamp
    with pytest.raises(Unauthorized, match=message):
        ADAPTER.precheck(inbound(DOC_BODY, sent))


@pytest.mark.parametrize("offset", [-300.0, 0.0, 12.5, 300.0])
def test_timestamp_within_five_minutes_passes(offset: float) -> None:
    for stamp in (f"{NOW.timestamp() + offset:.3f}", str(int(NOW.timestamp() + offset))):
        ADAPTER.precheck(inbound(DOC_BODY, {**headers(DOC_BODY), "Sentry-Hook-Timestamp": stamp}))


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_401(signature: str | None) -> None:
    sent = {k: v for k, v in headers(DOC_BODY).items() if k != "Sentry-Hook-Signature"}
    if signature is not None:
        sent["Sentry-Hook-Signature"] = signature
    with pytest.raises(Unauthorized, match="Sentry-Hook-Signature"):
        ADAPTER.precheck(inbound(DOC_BODY, sent))


def test_same_issue_created_twice_with_new_request_ids_is_one_delivery() -> None:
    body = payload(f"{VENDOR}/01-issue-created.json")
    first = ADAPTER.parse(inbound(body, headers(body, **{"Request-ID": "a"})))
    second = ADAPTER.parse(inbound(body, headers(body, **{"Request-ID": "b"})))
    assert first.delivery_key == second.delivery_key
    assert first.events[0].dedup_key == second.events[0].dedup_key


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        ("installation", "created"),
        ("installation", "deleted"),
        ("error", "created"),
        ("comment", "created"),
        ("issue", "deleted"),
        ("event_alert", "resolved"),
        ("metric_alert", "open"),
    ],
)
def test_other_resources_and_actions_are_ignored(resource: str, action: str) -> None:
    document = payload_json(f"{VENDOR}/01-issue-created.json") | {"action": action}
    delivery = ADAPTER.parse(inbound(compact(document), headers(b"", resource)))
    assert delivery.events == []
    assert resource in (delivery.ignored_reason or "")


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("issue", b"{not json", "JSON"),
        ("issue", b"[]", "JSON object"),
        ("issue", b'{"data": {}}', "'action'"),
        ("issue", b'{"action": "created"}', "'data'"),
        ("issue", b'{"action": "created", "data": {}}', "'data.issue'"),
        ("issue", b'{"action": "created", "data": {"issue": {"id": ""}}}', "'data.issue.id'"),
        ("event_alert", b'{"action": "triggered", "data": {"event": {}}}', "'data.event.issue_id'"),
        ("metric_alert", b'{"action": "warning", "data": {}}', "'data.metric_alert'"),
        (
            "metric_alert",
            b'{"action": "warning", "data": {"metric_alert": {}}}',
            "'data.metric_alert.id'",
        ),
        ("", b"{}", "Sentry-Hook-Resource"),
    ],
)
def test_malformed_bodies_name_the_problem(resource: str, body: bytes, field: str) -> None:
    with pytest.raises(MalformedRequest, match=field):
        ADAPTER.parse(inbound(body, headers(body, resource)))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_payloads_never_crash(data: st.DataObject) -> None:
    """Any JSON in any place: a 4xx-mapped error or a result, never another exception."""
    name = data.draw(st.sampled_from(sorted(EXPECTED)), label="payload")
    body = mutated_body(data, payload_json(f"{VENDOR}/{name}"))
    with contextlib.suppress(MalformedRequest):
        ADAPTER.parse(inbound(body, headers(body, EXPECTED[name][0])))
