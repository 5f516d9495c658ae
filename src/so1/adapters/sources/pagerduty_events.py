"""PagerDuty Events API v2 bodies as received at ``POST /v2/enqueue`` and ``/v2/change/enqueue``.

There is no signature: the body's ``routing_key`` is the credential, which the caller looks up.
Validation follows PagerDuty and reports every problem at once, as PagerDuty's 400 does
(``{"status":"invalid event","message":"Event object is invalid","errors":[...]}``):
- ``routing_key``: a non-empty string of at most 64 characters (PagerDuty's own keys are 32).
- ``event_action``: trigger, acknowledge or resolve.
- ``dedup_key``: at most 255 characters; required for acknowledge and resolve.
- trigger: ``payload.summary`` (at most 1024), ``payload.source``, ``payload.severity``
  (critical, error, warning, info); ``payload.timestamp`` optional, ISO 8601.
- ``payload.custom_details``: free-form, within SO1's JSON limits (domain.json_limits).

A trigger without ``dedup_key`` gets one from the caller's ``new_key`` (default: a random UUID,
as PagerDuty does) and ``generated_key=True``, so it always opens a new alert.

Mapping: service = ``payload.component`` if set, else ``payload.source`` (the component names
the thing that is broken; the source is often a host). ``source``, ``component``, ``group``,
``class`` and ``client`` become labels; ``custom_details``, ``images``, ``client_url`` go to
details; link hrefs become links.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, SeverityHint
from so1.domain.json_limits import json_problem
from so1.errors import MalformedRequest

MAX_ROUTING_KEY = 64
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
ACTIONS = {
    "trigger": AlertAction.TRIGGER,
    "acknowledge": AlertAction.ACKNOWLEDGE,
    "resolve": AlertAction.RESOLVE,
}
SEVERITIES = {hint.value: hint for hint in SeverityHint}


class InvalidEvent(MalformedRequest):
    """PagerDuty's "invalid event" 400: every problem found, one message each."""

    title = "Invalid event"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("Event object is invalid: " + "; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class EnqueueEvent:
    """An alert event for the integration owning ``routing_key``."""

    routing_key: str
    event: AlertEvent
    generated_key: bool = False  # True: the sender gave no dedup_key; ``event`` has a new one


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change (deploy, merge, config) recorded for context; it never opens an alert."""

    routing_key: str
    summary: str
    source: str | None = None
    timestamp: datetime | None = None
    custom_details: Any = None
    links: list[dict[str, str]] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)


def _random_key() -> str:
    return uuid.uuid4().hex


def parse_enqueue(body: bytes, new_key: Callable[[], str] = _random_key) -> EnqueueEvent:
    """Validate an Events v2 alert event; raise InvalidEvent listing every problem."""
    document = _document(body)
    errors: list[str] = []
    routing_key = _routing_key(document, errors)
    raw_action = document.get("event_action")
    action = ACTIONS.get(raw_action) if isinstance(raw_action, str) else None
    if action is None:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup_key = _optional_text(document, "dedup_key", MAX_DEDUP_KEY, errors)
    if dedup_key is None and action in (AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE):
        errors.append(f"'dedup_key' is required to {action.value}")
    payload = document.get("payload")
    if action is AlertAction.TRIGGER:
        _check_trigger_payload(payload, errors)
    links = _entries(document.get("links"), "links", "href", errors)
    images = _entries(document.get("images"), "images", "src", errors)
    if errors or action is None:
        raise InvalidEvent(errors)
    key = dedup_key or new_key()
    event = _alert_event(action, key, _obj(payload), document, links, images)
    return EnqueueEvent(routing_key, event, generated_key=dedup_key is None)


def parse_change_enqueue(body: bytes) -> ChangeEvent:
    """Validate an Events v2 change event (``routing_key`` and ``payload.summary`` required)."""
    document = _document(body)
    errors: list[str] = []
    routing_key = _routing_key(document, errors)
    payload = document.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' must be an object")
        payload = {}
    summary = _required_text(payload, "summary", MAX_SUMMARY, errors, "payload.summary")
    source = _optional_text(payload, "source", MAX_SUMMARY, errors, "payload.source")
    timestamp = _timestamp(payload, errors)
    _check_custom_details(payload, errors)
    links = _entries(document.get("links"), "links", "href", errors)
    images = _entries(document.get("images"), "images", "src", errors)
    if errors:
        raise InvalidEvent(errors)
    details = payload.get("custom_details")
    return ChangeEvent(routing_key, summary, source, timestamp, details, links, images)


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidEvent([f"body is not valid JSON: {exc}"]) from exc
    if not isinstance(document, dict):
        raise InvalidEvent(["body must be a JSON object"])
    return document


def _routing_key(document: dict[str, Any], errors: list[str]) -> str:
    return _required_text(document, "routing_key", MAX_ROUTING_KEY, errors)


def _check_trigger_payload(payload: object, errors: list[str]) -> None:
    if not isinstance(payload, dict):
        errors.append("'payload' must be an object for a trigger")
        return
    _required_text(payload, "summary", MAX_SUMMARY, errors, "payload.summary")
    _required_text(payload, "source", MAX_SUMMARY, errors, "payload.source")
    if str(payload.get("severity")) not in SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    _timestamp(payload, errors)
    for name in ("component", "group", "class"):
        _optional_text(payload, name, MAX_SUMMARY, errors, f"payload.{name}")
    _check_custom_details(payload, errors)


def _check_custom_details(payload: dict[str, Any], errors: list[str]) -> None:
    """Free-form, so held to SO1's JSON limits (too deep, too big, not a finite number)."""
    problem = json_problem(payload.get("custom_details"), "payload.custom_details", text=False)
    if problem is not None:
        errors.append(problem)


def _alert_event(
    action: AlertAction,
    dedup_key: str,
    payload: dict[str, Any],
    document: dict[str, Any],
    links: list[dict[str, str]],
    images: list[dict[str, str]],
) -> AlertEvent:
    labels = {name: payload.get(name) for name in ("source", "component", "group", "class")}
    labels["client"] = document.get("client")
    details = {
        "custom_details": payload.get("custom_details"),
        "images": images or None,
        "link_texts": {link["href"]: link["text"] for link in links if "text" in link} or None,
        "client_url": document.get("client_url"),
    }
    severity = SEVERITIES.get(str(payload.get("severity")))
    return AlertEvent(
        source=AlertSource.EVENTS,
        action=action,
        dedup_key=dedup_key,
        summary=payload.get("summary") or f"{action.value} {dedup_key}",
        service=payload.get("component") or payload.get("source"),
        severity_hint=severity if action is AlertAction.TRIGGER else None,
        labels={key: value for key, value in labels.items() if isinstance(value, str) and value},
        details={key: value for key, value in details.items() if value is not None},
        links=[link["href"] for link in links],
        occurred_at=_timestamp(payload, []) if action is AlertAction.TRIGGER else None,
    )


def _required_text(
    parent: dict[str, Any], key: str, limit: int, errors: list[str], path: str | None = None
) -> str:
    value = _optional_text(parent, key, limit, errors, path)
    if value is None and not _has_error(errors, path or key):
        errors.append(f"'{path or key}' is required")
    return value or ""


def _optional_text(
    parent: dict[str, Any], key: str, limit: int, errors: list[str], path: str | None = None
) -> str | None:
    name = path or key
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(f"'{name}' must be a string")
        return None
    if len(value) > limit:
        errors.append(f"'{name}' must be at most {limit} characters")
        return None
    return value


def _has_error(errors: list[str], name: str) -> bool:
    return any(error.startswith(f"'{name}'") for error in errors)


def _timestamp(payload: dict[str, Any], errors: list[str]) -> datetime | None:
    value = payload.get("timestamp")
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        errors.append("'payload.timestamp' must be an ISO 8601 date-time")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _entries(value: object, name: str, required: str, errors: list[str]) -> list[dict[str, str]]:
    """``links`` / ``images``: a list of objects with a string ``href`` / ``src``."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{name}' must be a list")
        return []
    kept: list[dict[str, str]] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get(required), str):
            errors.append(f"'{name}[{index}]' must be an object with a string '{required}'")
            continue
        kept.append({key: text for key, text in item.items() if isinstance(text, str)})
    return kept


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
