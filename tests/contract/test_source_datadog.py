"""Datadog webhook adapter against the reference templates and deliveries."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from so1.adapters.sources import datadog
from so1.adapters.sources.datadog import DatadogAdapter
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, SeverityHint
from so1.errors import MalformedRequest, Unauthorized, ValidationFailed
from tests.contract import (
    compact,
    inbound,
    mutated_body,
    payload,
    payload_json,
    payload_names,
    payloads_dir,
)

ADAPTER = DatadogAdapter()
VENDOR = "datadog"
TOKEN = "dd-token-0123456789"
AUTH = {"X-SO1-Token": TOKEN, "Content-Type": "application/json"}
BIG_ID = "5485379890863845239"  # > 2**53: a float would round it

# file → (action, dedup_key, summary, is_test, delivery_key); action None means refused (422).
EXPECTED: dict[str, tuple[AlertAction | None, str, str, bool, str | None]] = {
    "01-default-payload.TEMPLATE.json": (None, "", "", False, None),
    "02-default-payload.REAL-DELIVERY-test-notification.json": (
        AlertAction.TRIGGER, "18692904", "[TEST] Host Cluster Alert", True,
        "18692904|Triggered|1591216985000",
    ),
    "03-incident-template-ilert.TEMPLATE.json": (None, "", "", False, None),
    "04-default-payload.SUBSTITUTED-doc-examples.json": (
        AlertAction.TRIGGER, "1234567", "[Memory Alert]", False, "1234567|Triggered|1406662672000"
    ),
    "05-incident-template-ilert.SUBSTITUTED-triggered.json": (
        AlertAction.TRIGGER, "1234", "[Memory Alert]", False, "1234|Triggered|1406662672000"
    ),
    "06-incident-template-ilert.SUBSTITUTED-recovered.json": (
        AlertAction.RESOLVE, "1234", "[Memory Alert]", False, "1234|Recovered|1406662672000"
    ),
}  # fmt: skip

RECOMMENDED = {
    "alert_id": "1234",
    "alert_cycle_key": "7337058137441580817",
    "transition": "Triggered",
    "priority": "P2",
    "title": "[Triggered] checkout p99 > 2s",
    "scope": "host:web-1,env:prod",
    "tags": "env:prod,service:checkout,team:payments,monitor",
    "link": "https://app.datadoghq.com/event/jump_to?event_id=123456",
    "date": "1406662672000",
    "event_id": BIG_ID,
}


def parse_one(document: dict[str, Any], headers: dict[str, str] = AUTH) -> AlertEvent:
    [event] = ADAPTER.parse(inbound(compact(document), headers)).events
    return event


def test_every_reference_payload_has_an_expectation() -> None:
    assert sorted(f"{VENDOR}/{name}" for name in EXPECTED) == payload_names(VENDOR)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_payload_handling(name: str) -> None:
    action, dedup_key, summary, is_test, delivery_key = EXPECTED[name]
    request = inbound(payload(f"{VENDOR}/{name}"), AUTH)
    if action is None:  # an unsubstituted template: literals are not data
        with pytest.raises(ValidationFailed) as refused:
            ADAPTER.parse(request)
        assert refused.value.field == "alert_id"
        return
    delivery = ADAPTER.parse(request)
    assert delivery.delivery_key == delivery_key
    [event] = delivery.events
    assert event.source is AlertSource.DATADOG
    assert (event.action, event.dedup_key, event.summary) == (action, dedup_key, summary)
    assert event.is_test is is_test
    assert event.occurred_at is not None
    assert event.occurred_at.tzinfo is UTC


def test_real_delivery_keeps_large_ids_as_strings() -> None:
    [event] = ADAPTER.parse(inbound(payload(f"{VENDOR}/{sorted(EXPECTED)[1]}"), AUTH)).events
    assert event.details["id"] == BIG_ID
    assert event.details["org"] == {"id": "415600", "name": "Puppet"}
    assert event.occurred_at == datetime(2020, 6, 3, 20, 43, 5, tzinfo=UTC)


def test_recommended_template_is_documented_as_in_integrations_md() -> None:
    docstring = datadog.__doc__ or ""
    found = re.search(r"\n\s+(\{\"alert_id\".*?\})\n", docstring, re.DOTALL)
    assert found, "the module docstring lost the recommended template"
    reference = (payloads_dir().parents[1] / "reference" / "integrations.md").read_text()
    section = reference.split("## 3. Datadog", 1)[1]
    block = re.search(r"```json\n(\{\"alert_id\".*?\})\n```", section, re.DOTALL)
    assert block
    assert json.loads(found.group(1)) == json.loads(block.group(1))
    template: dict[str, str] = json.loads(found.group(1))
    assert set(template) == set(RECOMMENDED)


def test_recommended_template_delivery() -> None:
    delivery = ADAPTER.parse(inbound(compact(RECOMMENDED), AUTH))
    assert delivery.delivery_key == "7337058137441580817|Triggered|1406662672000"
    [event] = delivery.events
    assert (event.dedup_key, event.action, event.summary) == (
        "1234",
        AlertAction.TRIGGER,
        "checkout p99 > 2s",
    )
    assert (event.service, event.severity_hint) == ("checkout", SeverityHint.ERROR)
    assert event.labels == {
        "transition": "Triggered",
        "priority": "P2",
        "scope": "host:web-1,env:prod",
    }
    assert event.details["tags"] == ["env:prod", "service:checkout", "team:payments", "monitor"]
    assert event.details["event_id"] == BIG_ID
    assert event.links == [RECOMMENDED["link"]]


@pytest.mark.parametrize(
    ("transition", "action", "severity", "no_data"),
    [
        ("Triggered", AlertAction.TRIGGER, SeverityHint.ERROR, False),
        ("Re-Triggered", AlertAction.TRIGGER, SeverityHint.ERROR, False),
        ("Renotify", AlertAction.TRIGGER, SeverityHint.ERROR, False),
        ("Warn", AlertAction.TRIGGER, SeverityHint.WARNING, False),
        ("Re-Warn", AlertAction.TRIGGER, SeverityHint.WARNING, False),
        ("No Data", AlertAction.TRIGGER, SeverityHint.WARNING, True),
        ("Re-No Data", AlertAction.TRIGGER, SeverityHint.WARNING, True),
        ("Recovered", AlertAction.RESOLVE, SeverityHint.ERROR, False),
    ],
)
def test_transitions(transition: str, action: AlertAction, severity: SeverityHint, no_data: bool):
    event = parse_one({**RECOMMENDED, "transition": transition})
    assert (event.action, event.severity_hint) == (action, severity)
    assert (event.labels.get("no_data") == "true") is no_data
    # Re-Triggered / Renotify within one cycle: same alert identity, so no second alert.
    assert event.dedup_key == "1234"


@pytest.mark.parametrize(
    ("title", "action", "severity", "summary"),
    [
        ("[Triggered] cpu high", AlertAction.TRIGGER, None, "cpu high"),
        ("[Recovered] cpu high", AlertAction.RESOLVE, None, "cpu high"),
        ("[Warn] cpu high", AlertAction.TRIGGER, SeverityHint.WARNING, "cpu high"),
        ("[P1] [Re-Triggered] cpu", AlertAction.TRIGGER, SeverityHint.CRITICAL, "[P1] cpu"),
        ("[Triggered on {host:a}] cpu", AlertAction.TRIGGER, None, "cpu"),
        ("[Recovered on {host:a,env:b}] cpu", AlertAction.RESOLVE, None, "cpu"),
        ("[TEST] [Warn]", AlertAction.TRIGGER, SeverityHint.WARNING, "[TEST]"),
    ],
)
def test_transition_from_the_title_prefix(
    title: str, action: AlertAction, severity: SeverityHint | None, summary: str
) -> None:
    priority = "P1" if "[P1]" in title else "$ALERT_PRIORITY"
    document = {"alert_id": "9", "title": title, "priority": priority}
    event = parse_one({**document, "transition": "$ALERT_TRANSITION"})
    assert (event.action, event.severity_hint, event.summary) == (action, severity, summary)


@pytest.mark.parametrize(
    "document",
    [
        {"alert_id": "9", "title": "cpu high"},
        {"alert_id": "9", "title": "[Memory Alert] cpu high", "transition": "$ALERT_TRANSITION"},
        {"alert_id": "9", "transition": "Exploded"},
    ],
)
def test_unknown_or_missing_transition_is_422(document: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        ADAPTER.parse(inbound(compact(document), AUTH))
    assert refused.value.field == "transition"


@pytest.mark.parametrize(
    "changes",
    [
        {"alert_id": ""},
        {"alert_id": "   "},
        {"alert_id": "$ALERT_ID"},
        {"alert_id": "", "alert_cycle_key": "$ALERT_CYCLE_KEY"},
        {"alert_id": "$ALERT_ID", "alert_cycle_key": "$ALERT_CYCLE_KEY", "event_id": "$ID"},
    ],
)
def test_empty_or_unexpanded_alert_id_is_422_not_5xx(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed, match="alert_id") as refused:
        ADAPTER.parse(inbound(compact({**RECOMMENDED, **changes}), AUTH))
    assert refused.value.field == "alert_id"


def test_unexpanded_cycle_key_is_treated_as_missing() -> None:
    document = {**RECOMMENDED, "alert_cycle_key": "$ALERT_CYCLE_KEY"}
    delivery = ADAPTER.parse(inbound(compact(document), AUTH))
    assert delivery.delivery_key == "1234|Triggered|1406662672000"
    assert "alert_cycle_key" not in delivery.events[0].details


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$TAGS[service]", None),
        ("$ALERT_SCOPE", None),
        ("$event.tags", None),
        ("$5 spent", "$5 spent"),
    ],
)
def test_unexpanded_variable_pattern(value: str, expected: str | None) -> None:
    event = parse_one({**RECOMMENDED, "scope": value, "tags": "$TAGS"})
    assert event.labels.get("scope") == expected


def test_unquoted_big_ids_keep_every_digit() -> None:
    body = b'{"alert_id": 5485379890863845239, "transition": "Triggered", "title": "x"}'
    [event] = ADAPTER.parse(inbound(body, AUTH)).events
    assert event.dedup_key == BIG_ID


@pytest.mark.parametrize(
    ("tags", "scope", "service"),
    [
        ("service:checkout,env:prod", "host:a", "checkout"),
        ("env:prod", "service:cart,host:a", "cart"),
        ("$TAGS", "host:a", None),
        ("service:,env:prod", "$ALERT_SCOPE", None),
    ],
)
def test_service_from_tags_then_scope(tags: str, scope: str, service: str | None) -> None:
    assert parse_one({**RECOMMENDED, "tags": tags, "scope": scope}).service == service


@pytest.mark.parametrize(
    ("changes", "is_test"),
    [
        ({"title": "[Triggered] [TEST] cpu"}, True),
        ({"title": "[Triggered] [test] cpu"}, True),
        ({"event_type": "test"}, True),
        ({"event_type": "query_alert_monitor"}, False),
    ],
)
def test_test_notifications_are_flagged(changes: dict[str, str], is_test: bool) -> None:
    assert parse_one({**RECOMMENDED, **changes}).is_test is is_test


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("P1", SeverityHint.CRITICAL),
        ("P3", SeverityHint.WARNING),
        ("P5", SeverityHint.INFO),
        ("", None),
        ("$ALERT_PRIORITY", None),
    ],
)
def test_priority_sets_severity(priority: str, severity: SeverityHint | None) -> None:
    assert parse_one({**RECOMMENDED, "priority": priority}).severity_hint is severity


def test_precheck_and_verify_the_token() -> None:
    body = compact(RECOMMENDED)
    for headers in ({}, {"X-SO1-Token": ""}, {"Authorization": f"Bearer {TOKEN}"}):
        with pytest.raises(Unauthorized, match="X-SO1-Token"):
            ADAPTER.precheck(inbound(body, headers))
    ADAPTER.precheck(inbound(body, AUTH))
    assert ADAPTER.verify(inbound(body, AUTH), TOKEN)
    for wrong in (TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "é" * 5):
        assert not ADAPTER.verify(inbound(body, {"X-SO1-Token": wrong}), TOKEN)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"alert_id=1234&transition=Triggered", "application/x-www-form-urlencoded"),
        (compact(RECOMMENDED), "application/x-www-form-urlencoded; charset=utf-8"),
        (b"alert_id=1234&transition=Triggered", "application/json"),
        (b"alert_id=1234&transition=Triggered", ""),
    ],
)
def test_form_encoded_bodies_are_400(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedRequest, match="Encode as form"):
        ADAPTER.parse(inbound(body, {**AUTH, "Content-Type": content_type}))


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"12"])
def test_non_object_json_is_400(body: bytes) -> None:
    with pytest.raises(MalformedRequest, match="JSON object"):
        ADAPTER.parse(inbound(body, AUTH))


def test_default_payload_without_monitor_link_uses_the_event_id() -> None:
    document = payload_json(f"{VENDOR}/{sorted(EXPECTED)[3]}")
    assert parse_one(document).dedup_key == "1234567"
    document["id"] = "$ID"
    with pytest.raises(ValidationFailed):
        parse_one(document)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_payloads_never_crash(data: st.DataObject) -> None:
    """Any JSON in any place: a 4xx-mapped error or a result, never another exception."""
    name = data.draw(st.sampled_from(sorted(EXPECTED)), label="payload")
    body = mutated_body(data, payload_json(f"{VENDOR}/{name}"))
    with contextlib.suppress(MalformedRequest, ValidationFailed):
        ADAPTER.parse(inbound(body, AUTH))
