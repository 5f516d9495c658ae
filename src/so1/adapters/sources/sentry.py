"""Sentry integration-platform webhooks: bare-hex HMAC over the raw body, routed by resource.

``Sentry-Hook-Signature`` (legacy: ``Sentry-App-Signature``) is the lowercase hex of
HMAC-SHA256(client secret, raw body). ``Sentry-Hook-Timestamp`` (epoch seconds) is not signed,
so deliveries more than 300 s away from our clock are refused before any secret is tried.

Routing on ``Sentry-Hook-Resource``:
- ``issue``: created/unresolved → trigger, resolved → resolve, ignored/archived → resolve
  (``details["reason"] = "ignored"``), assigned → annotate with the assignee.
- ``event_alert`` triggered → trigger, keyed by the event's issue id.
- The title is the summary; the event's ``message`` and the ``culprit`` and ``metadata``
  (error type and value) of issues and events are kept in the details, where triage reads them.
- ``metric_alert``: critical/warning → trigger with that severity, resolved → resolve, keyed
  ``metric:<incident id>`` so metric incidents never collide with issue ids.
- ``installation`` and anything else → ignored.

``Request-ID`` is new on every attempt, so the delivery key is ``resource:action:id`` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from so1.adapters.sources._values import (
    iso_time as _time,
    json_object as _document,
    obj as _obj,
    text as _text,
)
from so1.adapters.sources.base import InboundRequest
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery, SeverityHint
from so1.errors import MalformedRequest, Unauthorized

TIMESTAMP_HEADER = "Sentry-Hook-Timestamp"
SIGNATURE_HEADERS = ("Sentry-Hook-Signature", "Sentry-App-Signature")
RESOURCE_HEADER = "Sentry-Hook-Resource"
MAX_SKEW_SECONDS = 300
EPOCH_SECONDS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")  # refuses nan/inf that float() accepts
PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/events/")

ISSUE_ACTIONS = {
    "created": AlertAction.TRIGGER,
    "unresolved": AlertAction.TRIGGER,
    "resolved": AlertAction.RESOLVE,
    "ignored": AlertAction.RESOLVE,
    "archived": AlertAction.RESOLVE,
    "assigned": AlertAction.ANNOTATE,
}
METRIC_ACTIONS = {
    "critical": (AlertAction.TRIGGER, SeverityHint.CRITICAL),
    "warning": (AlertAction.TRIGGER, SeverityHint.WARNING),
    "resolved": (AlertAction.RESOLVE, None),
}
TEXT_FIELDS = ("culprit", "metadata")  # the error's location, type and value
LEVEL_SEVERITY = {
    "fatal": SeverityHint.CRITICAL,
    "error": SeverityHint.ERROR,
    "warning": SeverityHint.WARNING,
    "info": SeverityHint.INFO,
    "debug": SeverityHint.INFO,
}


class SentryAdapter:
    """The SourceAdapter for a Sentry internal or public integration's webhooks."""

    source = AlertSource.SENTRY

    def precheck(self, request: InboundRequest) -> None:
        stamp = request.header(TIMESTAMP_HEADER)
        if stamp is None:
            raise Unauthorized(f"missing {TIMESTAMP_HEADER} header")
        if not EPOCH_SECONDS.match(stamp.strip()):
            raise Unauthorized(f"{TIMESTAMP_HEADER} is not epoch seconds")
        skew = abs(request.received_at.timestamp() - float(stamp))
        if skew > MAX_SKEW_SECONDS:
            raise Unauthorized(f"{TIMESTAMP_HEADER} is {skew:.0f} s away from now (max 300)")
        if _signature(request) is None:
            raise Unauthorized(f"missing {SIGNATURE_HEADERS[0]} header")

    def verify(self, request: InboundRequest, secret: str) -> bool:
        given = _signature(request) or ""
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        # Exact comparison on purpose: Sentry sends bare lowercase hex, so a "sha256=" prefix or
        # uppercase digits did not come from Sentry and are refused rather than normalised.
        return hmac.compare_digest(given.encode(), expected.encode())

    def parse(self, request: InboundRequest) -> ParsedDelivery:
        resource = (request.header(RESOURCE_HEADER) or "").strip()
        if not resource:
            raise MalformedRequest(f"missing {RESOURCE_HEADER} header")
        document = _document(request.body)
        action = document.get("action")
        if not isinstance(action, str) or not action:
            raise MalformedRequest("missing field 'action'")
        data = document.get("data")
        if not isinstance(data, dict):
            raise MalformedRequest("missing field 'data'")
        if resource == "issue" and action in ISSUE_ACTIONS:
            return _issue(action, data)
        if resource == "event_alert" and action == "triggered":
            return _event_alert(data)
        if resource == "metric_alert" and action in METRIC_ACTIONS:
            return _metric_alert(action, data)
        return ParsedDelivery([], None, f"Sentry {resource} '{action}' is not an alert")


def _signature(request: InboundRequest) -> str | None:
    for name in SIGNATURE_HEADERS:
        value = request.header(name)
        if value:
            return value.strip()
    return None


def _issue(action: str, data: dict[str, Any]) -> ParsedDelivery:
    issue = _required_obj(data, "issue", "data.issue")
    issue_id = _required_text(issue, "id", "data.issue.id")
    project = _obj(issue.get("project"))
    assignee = _obj(issue.get("assignedTo"))
    who = _text(assignee.get("name")) or _text(assignee.get("email"))
    details: dict[str, Any] = {"action": action, "status_details": issue.get("statusDetails")}
    for name in ("status", "substatus", "count", "userCount", "firstSeen", "lastSeen"):
        details[name] = issue.get(name)
    for name in TEXT_FIELDS:  # what triage reads besides the title
        details[name] = issue.get(name)
    if action in ("ignored", "archived"):
        details["reason"] = "ignored"
    if who:
        details["assignee"] = {"name": who, "email": assignee.get("email")}
    summary = _text(issue.get("title")) or _text(issue.get("shortId")) or f"issue {issue_id}"
    if action == "assigned":
        summary = f"Assigned to {who}" if who else "Unassigned"
    event = AlertEvent(
        source=AlertSource.SENTRY,
        action=ISSUE_ACTIONS[action],
        dedup_key=issue_id,
        summary=summary,
        service=_text(project.get("slug")) or _text(project.get("name")),
        severity_hint=_level(issue.get("level")),
        labels=_labels(short_id=issue.get("shortId"), level=issue.get("level")),
        details=_compact(details),
        links=_links(issue.get("permalink")),
        occurred_at=_time(issue.get("lastSeen")) or _time(issue.get("firstSeen")),
    )
    return ParsedDelivery([event], f"issue:{action}:{issue_id}")


def _event_alert(data: dict[str, Any]) -> ParsedDelivery:
    event = _required_obj(data, "event", "data.event")
    issue_id = _required_text(event, "issue_id", "data.event.issue_id")
    rule = _obj(data.get("issue_alert"))
    rule_name = _text(data.get("triggered_rule")) or _text(rule.get("title"))
    project = PROJECT_IN_URL.search(_text(event.get("url")) or "")
    details = {"event_id": event.get("event_id"), "rule": rule_name, "rule_id": rule.get("id")}
    details |= {"rule_settings": rule.get("settings"), "environment": event.get("environment")}
    details |= {name: event.get(name) for name in ("message", *TEXT_FIELDS)}
    alert = AlertEvent(
        source=AlertSource.SENTRY,
        action=AlertAction.TRIGGER,
        dedup_key=issue_id,
        summary=_text(event.get("title")) or rule_name or f"issue {issue_id}",
        service=project.group(1) if project else None,
        severity_hint=_level(event.get("level")),
        labels=_labels(rule=rule_name, environment=event.get("environment")),
        details=_compact(details),
        links=_links(event.get("web_url")),
        occurred_at=_time(event.get("datetime")),
    )
    # Each event that fires the rule is its own delivery; retries repeat the event id.
    event_id = _text(event.get("event_id")) or ""
    return ParsedDelivery([alert], f"event_alert:triggered:{issue_id}:{event_id}")


def _metric_alert(action: str, data: dict[str, Any]) -> ParsedDelivery:
    incident = _required_obj(data, "metric_alert", "data.metric_alert")
    incident_id = _required_text(incident, "id", "data.metric_alert.id")
    rule = _obj(incident.get("alert_rule"))
    projects = incident.get("projects") or rule.get("projects")
    alert_action, severity = METRIC_ACTIONS[action]
    details = {"action": action, "description": data.get("description_text")}
    details |= {
        "rule_id": rule.get("id"),
        "rule_name": rule.get("name"),
        "query": rule.get("query"),
    }
    details["identifier"] = incident.get("identifier")
    summary = _text(data.get("description_title")) or _text(rule.get("name"))
    started = _time(incident.get("date_detected")) or _time(incident.get("date_started"))
    alert = AlertEvent(
        source=AlertSource.SENTRY,
        action=alert_action,
        dedup_key=f"metric:{incident_id}",
        summary=summary or _text(incident.get("title")) or f"metric alert {incident_id}",
        service=_text(projects[0]) if isinstance(projects, list) else None,
        metric=_text(rule.get("aggregate")),
        severity_hint=severity,
        labels=_labels(rule=rule.get("name")),
        details=_compact(details),
        links=_links(data.get("web_url")),
        occurred_at=_time(incident.get("date_closed")) or started,
    )
    return ParsedDelivery([alert], f"metric_alert:{action}:{incident_id}")


def _required_obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedRequest(f"missing field '{path}'")
    return value


def _required_text(parent: dict[str, Any], key: str, path: str) -> str:
    value = _text(parent.get(key))
    if value is None:
        raise MalformedRequest(f"missing field '{path}'")
    return value


def _level(value: object) -> SeverityHint | None:
    return LEVEL_SEVERITY.get(value.lower()) if isinstance(value, str) else None


def _links(*values: object) -> list[str]:
    return [text for value in values if (text := _text(value))]


def _labels(**values: object) -> dict[str, str]:
    return {key: text for key, value in values.items() if (text := _text(value))}


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", [], {})}
