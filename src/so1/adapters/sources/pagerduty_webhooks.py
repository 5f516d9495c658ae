"""PagerDuty Webhooks V3: ``v1=`` HMAC signatures and ``{"event": {...}}`` envelopes.

Signature: ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``, each the lowercase hex of
HMAC-SHA256(subscription secret, raw body). During secret rotation PagerDuty sends several; the
request is genuine if any one matches. No timestamp is signed: redeliveries repeat
``X-Webhook-Id``, which becomes the delivery key.

Routing is on ``event.event_type``; ``event.data`` is read by its own ``type`` (an
``incident.annotated`` event carries an ``incident_note``, not an incident).

Severity: the incident priority wins when set (P1 → critical, P2 → error, P3 → warning,
P4/P5 → info); otherwise urgency (high → error, low → warning).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from so1.adapters.sources._values import (
    as_list as _list,
    iso_time as _timestamp,
    obj as _obj,
    text as _text,
)
from so1.adapters.sources.base import InboundRequest
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery, SeverityHint
from so1.errors import MalformedRequest

SIGNATURE_HEADER = "X-PagerDuty-Signature"
WEBHOOK_ID_HEADER = "X-Webhook-Id"

ACTIONS: dict[str, AlertAction] = {
    "incident.triggered": AlertAction.TRIGGER,
    "incident.acknowledged": AlertAction.ACKNOWLEDGE,
    "incident.resolved": AlertAction.RESOLVE,
    "incident.reopened": AlertAction.TRIGGER,
    # An upsert: creates the alert if unknown, otherwise refreshes it; status stays triggered.
    "incident.priority_updated": AlertAction.TRIGGER,
    "incident.annotated": AlertAction.ANNOTATE,
}
PRIORITY_SEVERITY = {
    "P1": SeverityHint.CRITICAL,
    "P2": SeverityHint.ERROR,
    "P3": SeverityHint.WARNING,
    "P4": SeverityHint.INFO,
    "P5": SeverityHint.INFO,
}
URGENCY_SEVERITY = {"high": SeverityHint.ERROR, "low": SeverityHint.WARNING}


class PagerDutyWebhooksAdapter:
    """The SourceAdapter for PagerDuty Webhooks V3 subscriptions."""

    source = AlertSource.PAGERDUTY

    def precheck(self, request: InboundRequest) -> None:
        header = request.header(SIGNATURE_HEADER)
        if not header:
            raise MalformedRequest(f"missing {SIGNATURE_HEADER} header")
        if not signatures(header):
            raise MalformedRequest(f"{SIGNATURE_HEADER} carries no v1= signature")

    def verify(self, request: InboundRequest, secret: str) -> bool:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest().encode()
        given = signatures(request.header(SIGNATURE_HEADER) or "")
        # Compare every entry (no early exit) so timing does not tell which one matched.
        matches = [hmac.compare_digest(value.encode(), expected) for value in given]
        return any(matches)

    def parse(self, request: InboundRequest) -> ParsedDelivery:
        event = _envelope(request.body)
        event_type = event.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedRequest("missing field 'event.event_type'")
        delivery_key = request.header(WEBHOOK_ID_HEADER) or _text(event.get("id"))
        action = ACTIONS.get(event_type)
        if action is None:
            return ParsedDelivery([], delivery_key, f"event type '{event_type}' is not handled")
        data = event.get("data")
        if not isinstance(data, dict):
            raise MalformedRequest("missing field 'event.data'")
        data_type = data.get("type")
        if data_type == "incident":
            alert = _incident_event(action, event, data)
        elif data_type == "incident_note":
            alert = _note_event(event, data)
        else:
            reason = f"{event_type} with data type '{data_type}' is not handled"
            return ParsedDelivery([], delivery_key, reason)
        return ParsedDelivery([alert], delivery_key)


def signatures(header: str) -> list[str]:
    """The non-empty ``v1=`` values of a signature header, in order."""
    entries = (part.strip() for part in header.split(","))
    return [entry[3:] for entry in entries if entry.startswith("v1=") and len(entry) > 3]


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"body is not valid JSON: {exc}") from exc
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise MalformedRequest("missing field 'event' (a JSON object)")
    return event


def _incident_event(action: AlertAction, event: dict[str, Any], data: dict[str, Any]) -> AlertEvent:
    incident_id = _text(data.get("id"))
    if incident_id is None:
        raise MalformedRequest("missing field 'event.data.id'")
    service = _obj(data.get("service"))
    priority = _text(_obj(data.get("priority")).get("summary"))
    urgency = _text(data.get("urgency"))
    labels = {"status": _text(data.get("status")), "urgency": urgency, "priority": priority}
    details = {
        "event_type": event.get("event_type"),
        "event_id": event.get("id"),
        "incident_number": data.get("number"),
        "incident_key": data.get("incident_key"),
        "assignees": [_text(_obj(a).get("summary")) for a in _list(data.get("assignees"))],
        "escalation_policy": _text(_obj(data.get("escalation_policy")).get("summary")),
        "conference_bridge": _conference(data.get("conference_bridge")),
        "agent": _text(_obj(event.get("agent")).get("summary")),
    }
    return AlertEvent(
        source=AlertSource.PAGERDUTY,
        action=action,
        dedup_key=incident_id,
        summary=_text(data.get("title")) or f"PagerDuty incident {incident_id}",
        service=_text(service.get("summary")) or _text(service.get("id")),
        severity_hint=_severity(priority, urgency),
        labels={key: value for key, value in labels.items() if value is not None},
        details={key: value for key, value in details.items() if value is not None},
        links=[url for url in [_text(data.get("html_url"))] if url],
        occurred_at=_timestamp(event.get("occurred_at")),
    )


def _note_event(event: dict[str, Any], data: dict[str, Any]) -> AlertEvent:
    incident = _obj(data.get("incident"))
    incident_id = _text(incident.get("id"))
    if incident_id is None:
        raise MalformedRequest("missing field 'event.data.incident.id'")
    details = {"event_type": event.get("event_type"), "event_id": event.get("id")}
    details |= {"note_id": data.get("id"), "incident_title": incident.get("summary")}
    return AlertEvent(
        source=AlertSource.PAGERDUTY,
        action=AlertAction.ANNOTATE,
        dedup_key=incident_id,
        summary=_text(data.get("content")) or "(empty note)",
        details={key: value for key, value in details.items() if value is not None},
        links=[url for url in [_text(incident.get("html_url"))] if url],
        occurred_at=_timestamp(event.get("occurred_at")),
    )


def _severity(priority: str | None, urgency: str | None) -> SeverityHint | None:
    if priority and priority.upper() in PRIORITY_SEVERITY:
        return PRIORITY_SEVERITY[priority.upper()]
    return URGENCY_SEVERITY.get((urgency or "").lower())


def _conference(value: object) -> dict[str, str] | None:
    """The bridge with every value as text (PagerDuty sends the number as string or int)."""
    bridge = _obj(value)
    kept = {key: _text(item) for key, item in bridge.items()}
    return {key: item for key, item in kept.items() if item is not None} or None
