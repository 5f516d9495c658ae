"""PagerDuty Webhooks V3 adapter against the recorded deliveries and published signatures."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from so1.adapters.sources.pagerduty_webhooks import PagerDutyWebhooksAdapter
from so1.domain.alerts import AlertAction, AlertSource, SeverityHint
from so1.errors import MalformedRequest
from tests.contract import (
    compact,
    inbound,
    mutated_body,
    payload,
    payload_json,
    payload_names,
    signature_vectors,
)

ADAPTER = PagerDutyWebhooksAdapter()
VENDOR = "pagerduty-webhooks-v3"
SIG = "X-PagerDuty-Signature"
GO_SECRET = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
GO_VALID = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
GO_FILE = f"{VENDOR}/07-incident-priority-updated-signed-go-pagerduty.json"
# integrations.md §2: the example envelope as one compact line, signed with "pd-test-secret".
DOC_BODY = (
    b'{"event":{"id":"5ac64822-4adc-4fda-ade0-410becf0de4f","event_type":"incident.triggered",'
    b'"resource_type":"incident","occurred_at":"2020-10-02T18:45:22.169Z","agent":null,'
    b'"client":null,"data":{"id":"PGR0VU2","type":"incident","status":"triggered",'
    b'"incident_key":"d3640fbd41094207a1c11e58e46b1662","title":"A little bump in the road",'
    b'"urgency":"high"}}}'
)
DOC_SIGNATURE = "v1=a2934d0f8ef05881ce2f91761aee530187ac111942b8066bc95ee6399aa6b7f0"
INCIDENT = "Q2CKYRLH85UNN4"

# file → (action, dedup_key, service, severity, summary); action None means ignored.
EXPECTED: dict[str, tuple[AlertAction | None, str, str | None, SeverityHint | None, str]] = {
    "01-incident-triggered.json": (
        AlertAction.TRIGGER, INCIDENT, "Webhook Tester", SeverityHint.WARNING, "Test"
    ),
    "02-incident-acknowledged.json": (
        AlertAction.ACKNOWLEDGE, INCIDENT, "Webhook Tester", SeverityHint.WARNING, "Test"
    ),
    "03-incident-resolved.json": (
        AlertAction.RESOLVE, INCIDENT, "Webhook Tester", SeverityHint.WARNING, "Test"
    ),
    "04-incident-annotated.json": (
        AlertAction.ANNOTATE, INCIDENT, None, None, "Resolution Note: I'm resolving it"
    ),
    "05-incident-priority-updated.json": (
        AlertAction.TRIGGER, "PGR0VU2", "API Service", SeverityHint.CRITICAL,
        "A little bump in the road",
    ),
    "06-service-updated.json": (None, "", None, None, ""),
    "07-incident-priority-updated-signed-go-pagerduty.json": (
        AlertAction.TRIGGER, "PGR0VU2", "API Service", SeverityHint.CRITICAL,
        "A little bump in the road",
    ),
    "08-pagey-ping.json": (None, "", None, None, ""),
}  # fmt: skip


def signed(body: bytes, secret: str = "s3cret", **headers: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {SIG: f"v1={digest}", **headers}


def envelope(event_type: str, data: dict[str, Any], **extra: Any) -> bytes:
    return compact({"event": {"id": "EV1", "event_type": event_type, "data": data, **extra}})


def test_every_reference_payload_has_an_expectation() -> None:
    assert sorted(f"{VENDOR}/{name}" for name in EXPECTED) == payload_names(VENDOR)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_payload_handling(name: str) -> None:
    action, dedup_key, service, severity, summary = EXPECTED[name]
    body = payload(f"{VENDOR}/{name}")
    delivery = ADAPTER.parse(inbound(body, signed(body, **{"X-Webhook-Id": f"wh-{name}"})))
    assert delivery.delivery_key == f"wh-{name}"
    if action is None:
        assert delivery.events == []
        assert delivery.ignored_reason
        return
    assert delivery.ignored_reason is None
    [event] = delivery.events
    assert event.source is AlertSource.PAGERDUTY
    assert (event.action, event.dedup_key, event.service) == (action, dedup_key, service)
    assert (event.severity_hint, event.summary) == (severity, summary)
    assert event.occurred_at is not None
    assert event.occurred_at.tzinfo is not None


def test_lifecycle_replay_keeps_one_identity() -> None:
    names = sorted(EXPECTED)[:4]
    events = [ADAPTER.parse(inbound(payload(f"{VENDOR}/{n}"), {})).events[0] for n in names]
    assert [e.action for e in events] == [
        AlertAction.TRIGGER,
        AlertAction.ACKNOWLEDGE,
        AlertAction.RESOLVE,
        AlertAction.ANNOTATE,
    ]
    assert {e.dedup_key for e in events} == {INCIDENT}


@pytest.mark.parametrize("name", [f"{VENDOR}/05-incident-priority-updated.json", GO_FILE])
def test_priority_update_is_an_upsert_that_tolerates_type_variance(name: str) -> None:
    [event] = ADAPTER.parse(inbound(payload(name), {})).events
    assert event.labels == {"status": "triggered", "urgency": "high", "priority": "P1"}
    bridge = event.details["conference_bridge"]
    assert isinstance(bridge["conference_number"], str)
    assert bridge["conference_url"] == "https://example.com"
    assert event.links == ["https://acme.pagerduty.com/incidents/PGR0VU2"]


def test_delivery_key_falls_back_to_the_event_id() -> None:
    delivery = ADAPTER.parse(inbound(payload(GO_FILE), {}))
    assert delivery.delivery_key == "01BWDWL3NYY7LUFPZCC28QUCMK"


def test_signature_vectors_from_the_reference_table() -> None:
    rows = signature_vectors()
    assert {row["expect"].split()[0] for row in rows} == {"valid", "INVALID"}
    for row in rows:
        request = inbound(payload(row["file"]), {row["header"]: row["header_value"]})
        ADAPTER.precheck(request)
        verdict = ADAPTER.verify(request, row["secret"])
        assert verdict is (row["expect"] == "valid"), (row["file"], row["header_value"])


def test_integrations_md_vector_over_the_compact_body() -> None:
    request = inbound(DOC_BODY, {SIG: DOC_SIGNATURE})
    assert ADAPTER.verify(request, "pd-test-secret")
    assert not ADAPTER.verify(request, "pd-test-secret ")
    [event] = ADAPTER.parse(request).events
    assert (event.dedup_key, event.severity_hint) == ("PGR0VU2", SeverityHint.ERROR)


@pytest.mark.parametrize(
    "header",
    [
        f"v1={'0' * 64},{GO_VALID}",
        f"v1={'0' * 64}, {GO_VALID}",
        f"{GO_VALID},v1={'0' * 64}",
        f"v0=abc,{GO_VALID}",
    ],
)
def test_rotation_any_v1_entry_may_match(header: str) -> None:
    request = inbound(payload(GO_FILE), {SIG: header})
    ADAPTER.precheck(request)
    assert ADAPTER.verify(request, GO_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        f"v1={'0' * 64},v1={'1' * 64}",
        GO_VALID.upper().replace("V1=", "v1="),
        GO_VALID + "00",
        "v1=é" + GO_VALID[4:],
    ],
)
def test_wrong_signatures_are_rejected(header: str) -> None:
    assert not ADAPTER.verify(inbound(payload(GO_FILE), {SIG: header}), GO_SECRET)


def test_whitespace_altered_body_fails_verification() -> None:
    reserialized = json.dumps(payload_json(GO_FILE), indent=2).encode()
    assert not ADAPTER.verify(inbound(reserialized, {SIG: GO_VALID}), GO_SECRET)
    assert not ADAPTER.verify(inbound(payload(GO_FILE) + b"\n", {SIG: GO_VALID}), GO_SECRET)


@pytest.mark.parametrize(
    "headers",
    [{}, {SIG: ""}, {SIG: "sha256=abc"}, {SIG: GO_VALID[3:]}, {SIG: "v1="}, {SIG: "v0=ab, v2=cd"}],
)
def test_precheck_refuses_missing_or_v1less_header_with_400(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedRequest, match=SIG):
        ADAPTER.precheck(inbound(payload(GO_FILE), headers))


@pytest.mark.parametrize(
    ("event_type", "action"),
    [
        ("incident.reopened", AlertAction.TRIGGER),
        ("incident.priority_updated", AlertAction.TRIGGER),
        ("incident.escalated", None),
        ("incident.responder.added", None),
        ("something.new", None),
    ],
)
def test_event_type_routing(event_type: str, action: AlertAction | None) -> None:
    delivery = ADAPTER.parse(inbound(envelope(event_type, {"id": "P1", "type": "incident"}), {}))
    assert [e.action for e in delivery.events] == ([action] if action else [])
    if action is None:
        assert event_type in (delivery.ignored_reason or "")


def test_unknown_data_type_is_ignored() -> None:
    body = envelope("incident.annotated", {"id": "X", "type": "incident_status_update"})
    delivery = ADAPTER.parse(inbound(body, {}))
    assert delivery.events == []
    assert "incident_status_update" in (delivery.ignored_reason or "")


def test_minimal_incident_uses_fallbacks() -> None:
    data = {"id": "PX", "type": "incident", "service": {"id": "PSVC"}, "priority": None}
    [event] = ADAPTER.parse(inbound(envelope("incident.triggered", data), {})).events
    assert (event.summary, event.service, event.severity_hint) == (
        "PagerDuty incident PX",
        "PSVC",
        None,
    )
    assert event.occurred_at is None
    assert event.labels == {}


@pytest.mark.parametrize(
    ("priority", "urgency", "severity"),
    [
        ("P1", "low", SeverityHint.CRITICAL),
        ("P2", None, SeverityHint.ERROR),
        ("P3", "high", SeverityHint.WARNING),
        ("P4", None, SeverityHint.INFO),
        ("P5", None, SeverityHint.INFO),
        ("SEV-custom", "high", SeverityHint.ERROR),
        (None, "high", SeverityHint.ERROR),
        (None, "low", SeverityHint.WARNING),
        (None, None, None),
    ],
)
def test_severity_mapping(priority: str | None, urgency: str | None, severity: SeverityHint | None):
    data = {"id": "PX", "type": "incident", "urgency": urgency}
    data["priority"] = {"summary": priority} if priority else None  # type: ignore[assignment]
    [event] = ADAPTER.parse(inbound(envelope("incident.triggered", data), {})).events
    assert event.severity_hint is severity


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[]", "'event'"),
        (b'{"event": "x"}', "'event'"),
        (b'{"data": {}}', "'event'"),
        (compact({"event": {"data": {}}}), "'event.event_type'"),
        (compact({"event": {"event_type": "incident.triggered"}}), "'event.data'"),
        (envelope("incident.triggered", {"type": "incident"}), "'event.data.id'"),
        (envelope("incident.annotated", {"type": "incident_note"}), "'event.data.incident.id'"),
    ],
)
def test_malformed_bodies_name_the_problem(body: bytes, field: str) -> None:
    with pytest.raises(MalformedRequest, match=field):
        ADAPTER.parse(inbound(body, {}))


def test_occurred_at_is_timezone_aware() -> None:
    body = envelope(
        "incident.triggered", {"id": "P", "type": "incident"}, occurred_at="2024-01-15T14:45:00"
    )
    [event] = ADAPTER.parse(inbound(body, {})).events
    assert event.occurred_at == datetime(2024, 1, 15, 14, 45, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_payloads_never_crash(data: st.DataObject) -> None:
    """Any JSON in any place: a 4xx-mapped error or a result, never another exception."""
    name = data.draw(st.sampled_from(sorted(EXPECTED)), label="payload")
    body = mutated_body(data, payload_json(f"{VENDOR}/{name}"))
    with contextlib.suppress(MalformedRequest):
        ADAPTER.parse(inbound(body, {}))
