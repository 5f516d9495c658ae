"""PagerDuty Events API v2 intake parsing against the official examples and PagerDuty's rules."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from so1.adapters.sources.pagerduty_events import (
    ChangeEvent,
    InvalidEvent,
    parse_change_enqueue,
    parse_enqueue,
)
from so1.domain.alerts import AlertAction, AlertSource, SeverityHint
from so1.errors import MalformedRequest
from tests.contract import compact, mutated_body, payload, payload_json, payload_names

VENDOR = "pagerduty-events-v2"
KEY = "e93facc04764012d7bfb002500d5d1a6"
BUILD_KEY = "737ea619db564d41bd9824063e1f6b08"
TRIGGER: dict[str, Any] = {
    "routing_key": KEY,
    "event_action": "trigger",
    "dedup_key": "inc-7f3c",
    "payload": {"summary": "SEV2: checkout p99 > 2s", "source": "api-prod", "severity": "error"},
}

# file → (action, routing_key, dedup_key, severity, service); action None: a change event.
EXPECTED: dict[str, tuple[AlertAction | None, str, str, SeverityHint | None, str | None]] = {
    "01-trigger-full-openapi.json": (
        AlertAction.TRIGGER, KEY, "srv01/mysql", SeverityHint.CRITICAL, "mysql"
    ),
    "02-trigger-developer-docs.json": (
        AlertAction.TRIGGER, "samplekeyhere", "samplekeyhere", SeverityHint.INFO, "postgres"
    ),
    "03-acknowledge.json": (AlertAction.ACKNOWLEDGE, "routingkeyhere", "dedupkeyhere", None, None),
    "04-resolve.json": (AlertAction.RESOLVE, "routingkeyhere", "dedupkeyhere", None, None),
    "05-change-event-developer-docs.json": (None, "samplekeyhere", "", None, None),
    "06-change-event-build-openapi.json": (None, BUILD_KEY, "", None, None),
    "07-change-event-git-openapi.json": (None, "737ea619db564d41bd9824063e1f8au1", "", None, None),
}  # fmt: skip


def errors_of(document: object) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        parse_enqueue(document if isinstance(document, bytes) else compact(document))
    return refused.value.errors


def with_payload(**changes: Any) -> dict[str, Any]:
    return {**TRIGGER, "payload": {**TRIGGER["payload"], **changes}}


def test_every_reference_payload_has_an_expectation() -> None:
    assert sorted(f"{VENDOR}/{name}" for name in EXPECTED) == payload_names(VENDOR)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_payload_handling(name: str) -> None:
    action, routing_key, dedup_key, severity, service = EXPECTED[name]
    body = payload(f"{VENDOR}/{name}")
    if action is None:  # change events are context only: never an alert
        change = parse_change_enqueue(body)
        assert change.routing_key == routing_key
        assert change.summary == payload_json(f"{VENDOR}/{name}")["payload"]["summary"]
        assert any("event_action" in error for error in errors_of(body))
        return
    parsed = parse_enqueue(body)
    assert (parsed.routing_key, parsed.generated_key) == (routing_key, False)
    event = parsed.event
    assert event.source is AlertSource.EVENTS
    assert (event.action, event.dedup_key, event.service) == (action, dedup_key, service)
    assert event.severity_hint is severity
    assert event.summary


def test_full_trigger_keeps_details_links_and_images() -> None:
    event = parse_enqueue(payload(f"{VENDOR}/01-trigger-full-openapi.json")).event
    assert event.summary == "DISK at 99% on machine prod-datapipe03.example.com"
    assert event.labels == {
        "source": "prod-datapipe03.example.com",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "client": "Sample Monitoring Service",
    }
    assert event.details["custom_details"] == {
        "free space": "1%",
        "ping time": "1500ms",
        "load avg": 0.75,
    }
    assert event.details["images"][0]["alt"] == "An example link with an image"
    assert event.details["client_url"] == "https://monitoring.service.com"
    assert event.links == ["http://pagerduty.example.com"]
    assert event.occurred_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)


def test_service_is_the_source_when_there_is_no_component() -> None:
    assert parse_enqueue(compact(TRIGGER)).event.service == "api-prod"


def test_change_event_fields() -> None:
    change = parse_change_enqueue(payload(f"{VENDOR}/06-change-event-build-openapi.json"))
    assert change == ChangeEvent(
        routing_key=BUILD_KEY,
        summary="Build Success: Increase snapshot create timeout to 30 seconds",
        source="prod-build-agent-i-0b148d1040d565540",
        timestamp=datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC),
        custom_details={"build_state": "passed", "build_number": "220", "run_time": "1236s"},
        links=[
            {
                "href": "https://buildpipeline.com/pagerduty/deployment/builds/220",
                "text": "View in Build Pipeline",
            }
        ],
        images=change.images,
    )
    assert len(change.images) == 1


def test_trigger_without_dedup_key_asks_the_caller_for_one() -> None:
    document = {k: v for k, v in TRIGGER.items() if k != "dedup_key"}
    parsed = parse_enqueue(compact(document), new_key=lambda: "generated-1")
    assert (parsed.event.dedup_key, parsed.generated_key) == ("generated-1", True)
    first, second = (parse_enqueue(compact(document)).event.dedup_key for _ in range(2))
    assert first != second  # PagerDuty's rule: a keyless trigger always opens a new alert
    assert parse_enqueue(compact({**document, "dedup_key": ""})).generated_key


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_ack_and_resolve_need_a_dedup_key(action: str) -> None:
    document = {"routing_key": KEY, "event_action": action}
    assert errors_of(document) == [f"'dedup_key' is required to {action}"]
    assert parse_enqueue(compact({**document, "dedup_key": "k"})).event.action.value == action


@pytest.mark.parametrize(
    ("routing_key", "valid"),
    [
        (KEY, True),
        ("x", True),
        ("k" * 64, True),
        ("k" * 65, False),
        ("", False),
        (None, False),
        (32, False),
    ],
)
def test_routing_key_rules(routing_key: object, valid: bool) -> None:
    document = {**TRIGGER, "routing_key": routing_key}
    if valid:
        assert parse_enqueue(compact(document)).routing_key == routing_key
    else:
        assert [e for e in errors_of(document) if e.startswith("'routing_key'")]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"event_action": "escalate"}, "'event_action' must be one of"),
        ({"event_action": None}, "'event_action' must be one of"),
        ({"dedup_key": "k" * 256}, "'dedup_key' must be at most 255 characters"),
        ({"dedup_key": 42}, "'dedup_key' must be a string"),
        ({"payload": None}, "'payload' must be an object for a trigger"),
        ({"payload": "text"}, "'payload' must be an object for a trigger"),
        ({"links": {"href": "x"}}, "'links' must be a list"),
        ({"links": [{"text": "no href"}]}, "'links[0]' must be an object with a string 'href'"),
        ({"images": ["x"]}, "'images[0]' must be an object with a string 'src'"),
    ],
)
def test_event_level_errors(changes: dict[str, Any], error: str) -> None:
    assert any(e.startswith(error) for e in errors_of({**TRIGGER, **changes}))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"summary": None}, "'payload.summary' is required"),
        ({"summary": ""}, "'payload.summary' is required"),
        ({"summary": "s" * 1025}, "'payload.summary' must be at most 1024 characters"),
        ({"source": None}, "'payload.source' is required"),
        ({"source": ["a"]}, "'payload.source' must be a string"),
        ({"severity": "fatal"}, "'payload.severity' must be one of"),
        ({"severity": "CRITICAL"}, "'payload.severity' must be one of"),
        ({"severity": None}, "'payload.severity' must be one of"),
        ({"timestamp": "yesterday"}, "'payload.timestamp' must be an ISO 8601 date-time"),
        ({"timestamp": 1700000000}, "'payload.timestamp' must be an ISO 8601 date-time"),
        ({"component": 5}, "'payload.component' must be a string"),
    ],
)
def test_trigger_payload_errors(changes: dict[str, Any], error: str) -> None:
    assert any(e.startswith(error) for e in errors_of(with_payload(**changes)))


def test_limits_are_inclusive() -> None:
    document = {**with_payload(summary="s" * 1024), "dedup_key": "k" * 255}
    assert parse_enqueue(compact(document)).event.summary == "s" * 1024


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of({"event_action": "trigger", "payload": {"severity": "bad"}})
    assert errors == [
        "'routing_key' is required",
        "'payload.summary' is required",
        "'payload.source' is required",
        "'payload.severity' must be one of critical, error, warning, info",
    ]


def test_invalid_event_is_a_400_with_pagerdutys_message() -> None:
    with pytest.raises(
        MalformedRequest, match=r"^Event object is invalid: 'routing_key' is required"
    ):
        parse_enqueue(compact({**TRIGGER, "routing_key": ""}))


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b'"x"', b"\xff"])
def test_bodies_that_are_not_json_objects(body: bytes) -> None:
    assert len(errors_of(body)) == 1
    with pytest.raises(InvalidEvent):
        parse_change_enqueue(body)


def test_timestamp_without_offset_is_utc() -> None:
    event = parse_enqueue(compact(with_payload(timestamp="2024-01-15T14:45:00"))).event
    assert event.occurred_at == datetime(2024, 1, 15, 14, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"payload": {"summary": "x"}}, "'routing_key' is required"),
        ({"routing_key": KEY}, "'payload' must be an object"),
        ({"routing_key": KEY, "payload": {}}, "'payload.summary' is required"),
        (
            {"routing_key": KEY, "payload": {"summary": "s" * 1025}},
            "'payload.summary' must be at most",
        ),
        (
            {"routing_key": KEY, "payload": {"summary": "x", "timestamp": "soon"}},
            "'payload.timestamp'",
        ),
        ({"routing_key": KEY, "payload": {"summary": "x"}, "links": [1]}, "'links[0]'"),
    ],
)
def test_change_event_errors(document: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_change_enqueue(compact(document))
    assert any(e.startswith(error) for e in refused.value.errors)


def test_minimal_change_event() -> None:
    change = parse_change_enqueue(compact({"routing_key": KEY, "payload": {"summary": "deploy"}}))
    assert change == ChangeEvent(routing_key=KEY, summary="deploy")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_payloads_never_crash(data: st.DataObject) -> None:
    """Any JSON in any place: a 4xx-mapped error or a result, never another exception."""
    name = data.draw(st.sampled_from(sorted(EXPECTED)), label="payload")
    body = mutated_body(data, payload_json(f"{VENDOR}/{name}"))
    with contextlib.suppress(InvalidEvent):
        parse_enqueue(body)
    with contextlib.suppress(InvalidEvent):
        parse_change_enqueue(body)
