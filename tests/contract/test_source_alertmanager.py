"""Alertmanager webhook adapter against real captures and a consumer fixture."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from so1.adapters.sources.alertmanager import AlertmanagerAdapter
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, SeverityHint
from so1.errors import MalformedRequest, Unauthorized
from tests.contract import compact, inbound, mutated_body, payload, payload_json, payload_names

ADAPTER = AlertmanagerAdapter()
VENDOR = "alertmanager"
TOKEN = "am-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
T, R = AlertAction.TRIGGER, AlertAction.RESOLVE

# file → per alert: (action, dedup_key or None for a label hash, summary, severity, service)
EXPECTED: dict[str, list[tuple[AlertAction, str | None, str, SeverityHint | None, str | None]]] = {
    "01-firing-single-alert-am0.21.0-raw.json": [
        (T, "8a07086b74f3ba78", "This is a demo", SeverityHint.CRITICAL, None)
    ],
    "02-firing-group-containing-one-resolved-alert.json": [
        (T, None, "ServerStop", None, None),
        (R, None, "ServerStop", None, None),
    ],
    "03-resolved-group-two-alerts.json": [
        (R, "66214a361160fb6f", "service /prometheus air down on instance1", SeverityHint.INFO,
         "prometheus"),
        (R, "25a874c99325d1ce", "service /prometheus air down on instance2", SeverityHint.INFO,
         "prometheus"),
    ],
}  # fmt: skip


def alert(**fields: Any) -> dict[str, Any]:
    return {"status": "firing", "labels": {"alertname": "HighLoad"}, **fields}


def parse_alerts(*alerts: dict[str, Any], **group: Any) -> list[AlertEvent]:
    body = compact({"version": "4", "status": "firing", "alerts": list(alerts), **group})
    return ADAPTER.parse(inbound(body, AUTH)).events


def test_every_reference_payload_has_an_expectation() -> None:
    assert sorted(f"{VENDOR}/{name}" for name in EXPECTED) == payload_names(VENDOR)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_payload_handling(name: str) -> None:
    request = inbound(payload(f"{VENDOR}/{name}"), AUTH)
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, TOKEN)
    delivery = ADAPTER.parse(request)
    assert delivery.delivery_key is None
    assert delivery.ignored_reason is None
    assert len(delivery.events) == len(EXPECTED[name])
    for event, (action, key, summary, severity, service) in zip(
        delivery.events, EXPECTED[name], strict=True
    ):
        assert event.source is AlertSource.ALERTMANAGER
        assert (event.action, event.summary, event.service) == (action, summary, service)
        assert event.severity_hint is severity
        if key is None:  # no fingerprint in the capture: identity is the label-set hash
            assert event.dedup_key.startswith("labels:")
        else:
            assert event.dedup_key == key
        assert event.metric == event.labels["alertname"]
        assert event.occurred_at is not None


def test_capture_01_keeps_labels_annotations_and_the_generator_link() -> None:
    [event] = ADAPTER.parse(inbound(payload(f"{VENDOR}/{sorted(EXPECTED)[0]}"), AUTH)).events
    assert event.labels == {"alertname": "DemoAlert", "server": "ni3", "severity": "critical"}
    assert event.details["annotations"] == {"summary": "This is a demo"}
    assert event.details["groupKey"] == '{}:{alertname="DemoAlert"}'
    assert event.links == [
        "http://n3:9090/graph?g0.expr=sum%28prometheus_build_info%29+%3C+3&g0.tab=1"
    ]
    assert "endsAt" not in event.details  # Go's zero time means "still firing"


def test_capture_02_uses_each_alerts_own_status_and_label_identity() -> None:
    firing, resolved = ADAPTER.parse(
        inbound(payload(f"{VENDOR}/{sorted(EXPECTED)[1]}"), AUTH)
    ).events
    assert firing.dedup_key != resolved.dedup_key
    assert resolved.labels["instance"] == "a1"
    assert resolved.occurred_at is not None
    assert resolved.occurred_at.utcoffset() is not None


def test_label_hash_is_stable_and_order_independent() -> None:
    labels = {"alertname": "X", "env": "prod", "instance": "a"}
    [first] = parse_alerts(alert(labels=labels))
    [second] = parse_alerts(alert(labels=dict(reversed(labels.items())), status="resolved"))
    [other] = parse_alerts(alert(labels={**labels, "instance": "b"}))
    assert first.dedup_key == second.dedup_key != other.dedup_key
    assert len(first.dedup_key) == len("labels:") + 32


def test_alert_without_status_falls_back_to_the_group() -> None:
    entry = {"labels": {"alertname": "X"}, "fingerprint": "f1"}
    body = compact({"status": "resolved", "alerts": [entry]})
    assert [e.action for e in ADAPTER.parse(inbound(body, AUTH)).events] == [R]


@pytest.mark.parametrize(
    ("severity", "hint"),
    [
        ("critical", SeverityHint.CRITICAL),
        ("page", SeverityHint.CRITICAL),
        ("ERROR", SeverityHint.ERROR),
        ("warning", SeverityHint.WARNING),
        ("warn", SeverityHint.WARNING),
        ("info", SeverityHint.INFO),
        ("ticket", SeverityHint.INFO),
        ("none", SeverityHint.INFO),
        (None, None),
    ],
)
def test_severity_mapping(severity: str | None, hint: SeverityHint | None) -> None:
    labels = {"alertname": "X"} | ({"severity": severity} if severity else {})
    [event] = parse_alerts(alert(labels=labels))
    assert event.severity_hint is hint


@pytest.mark.parametrize(
    ("annotations", "summary"),
    [
        ({"summary": "a", "description": "b"}, "a"),
        ({"SUMMARY": "A", "DESCRIPTION": "B"}, "A"),
        ({"description": "b"}, "b"),
        ({"summary": " ", "runbook_url": "http://x"}, "HighLoad"),
        ({}, "HighLoad"),
    ],
)
def test_summary_fallbacks(annotations: dict[str, str], summary: str) -> None:
    [event] = parse_alerts(alert(annotations=annotations))
    assert event.summary == summary


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service": "checkout", "job": "node", "app": "web"}, "checkout"),
        ({"job": "node", "app": "web"}, "node"),
        ({"app": "web"}, "web"),
        ({}, None),
    ],
)
def test_service_from_labels(labels: dict[str, str], service: str | None) -> None:
    [event] = parse_alerts(alert(labels={"alertname": "X", **labels}))
    assert event.service == service


def test_occurred_at_is_start_when_firing_and_end_when_resolved() -> None:
    times = {"startsAt": "2024-01-15T14:00:00.123456789Z", "endsAt": "2024-01-15T14:30:00Z"}
    [firing] = parse_alerts(alert(fingerprint="a", **times))
    [resolved] = parse_alerts(alert(fingerprint="a", status="resolved", **times))
    assert firing.occurred_at == datetime(2024, 1, 15, 14, 0, 0, 123456, tzinfo=UTC)
    assert resolved.occurred_at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def test_non_string_labels_are_dropped() -> None:
    [event] = parse_alerts(alert(labels={"alertname": "X", "n": 1, "m": None}))
    assert event.labels == {"alertname": "X"}


def test_empty_group_is_ignored() -> None:
    delivery = ADAPTER.parse(inbound(compact({"version": "4", "alerts": []}), AUTH))
    assert (delivery.events, delivery.delivery_key) == ([], None)
    assert delivery.ignored_reason


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"nope", "JSON"),
        (b"[]", "JSON object"),
        (compact({"version": "3", "alerts": []}), "version"),
        (compact({"version": "4"}), "'alerts'"),
        (compact({"alerts": {"a": 1}}), "'alerts'"),
        (compact({"alerts": ["x"]}), r"alerts\[0\]"),
        (compact({"alerts": [{"status": "pending"}]}), r"alerts\[0\]\.status"),
        (compact({"alerts": [{"labels": {}}]}), r"alerts\[0\]\.status"),
    ],
)
def test_malformed_bodies_name_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedRequest, match=problem):
        ADAPTER.parse(inbound(body, AUTH))


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer   ", f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}"],
)
def test_missing_or_non_bearer_authorization_is_401(authorization: str | None) -> None:
    sent = {} if authorization is None else {"Authorization": authorization}
    with pytest.raises(Unauthorized, match="Bearer"):
        ADAPTER.precheck(inbound(b"{}", sent))


@pytest.mark.parametrize(
    ("authorization", "valid"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer é", False),
    ],
)
def test_bearer_token_verification(authorization: str, valid: bool) -> None:
    request = inbound(b"{}", {"Authorization": authorization})
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, TOKEN) is valid


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_payloads_never_crash(data: st.DataObject) -> None:
    """Any JSON in any place: a 4xx-mapped error or a result, never another exception."""
    name = data.draw(st.sampled_from(sorted(EXPECTED)), label="payload")
    body = mutated_body(data, payload_json(f"{VENDOR}/{name}"))
    with contextlib.suppress(MalformedRequest):
        ADAPTER.parse(inbound(body, AUTH))
