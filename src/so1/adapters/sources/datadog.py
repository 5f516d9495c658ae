"""Datadog Webhooks integration: a shared token in ``X-SO1-Token`` and a JSON template we write.

Datadog signs nothing; the webhook's Custom Headers carry ``{"X-SO1-Token": "<token>"}``.
Recommended payload template (every value arrives as a string):

    {"alert_id":"$ALERT_ID","alert_cycle_key":"$ALERT_CYCLE_KEY","transition":"$ALERT_TRANSITION",
     "priority":"$ALERT_PRIORITY","title":"$EVENT_TITLE","scope":"$ALERT_SCOPE","tags":"$TAGS",
     "link":"$LINK","date":"$DATE","event_id":"$ID"}

Also accepted: the tile's default payload (``id``, ``title``, ``body``, ``event_type``, ``date``)
and the ilert template (default plus ``alert_transition``, ``alert_id``, ``link``).

Rules:
- A literal, unexpanded ``$VARIABLE`` (what the Test button sends for variables that do not
  apply) or an empty string counts as missing.
- Transition: the ``transition`` / ``alert_transition`` field, else the title's leading tag
  (``[Triggered]``, ``[Recovered on {host:a}]``), which the summary drops. Triggered,
  Re-Triggered, Renotify → trigger; Warn, Re-Warn → trigger with warning severity; No Data,
  Re-No Data → trigger, warning, label ``no_data``; Recovered → resolve. Otherwise the
  severity follows ``priority`` (P1 critical, P2 error, P3 warning, P4/P5 info).
- Identity: ``alert_id`` (the monitor id). Only when the template has no ``alert_id`` key at
  all (the default payload): the monitor id in the body's links (``/monitors#<id>``), else the
  event id. An ``alert_id`` that is present but empty or unexpanded is refused (422), as is a
  payload with no identity. Ids stay strings (they exceed 2^53).
- Delivery key: ``alert_cycle_key`` (or the identity), transition and ``date``.
- A ``[TEST]`` title or ``event_type`` ``test`` marks a test notification.
- The title (less its transition tag) is the summary; ``body``, and any key of the template
  not read above (``text``, ``message``, ...), is kept in the details, where triage reads it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from so1.adapters.sources.base import InboundRequest, same_secret
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery, SeverityHint
from so1.errors import MalformedRequest, Unauthorized, ValidationFailed

AUTH_HEADER = "X-SO1-Token"
FORM_HINT = (
    "Datadog sent a form-encoded body; untick 'Encode as form' in the webhook settings "
    "and send the JSON payload template"
)
UNEXPANDED = re.compile(r"^\$[A-Z_\[\]a-z.]+$")
LEADING_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])+")
BRACKETED = re.compile(r"\[([^\]]*)\]")
MONITOR_LINK = re.compile(r"/monitors#(\d+)")

# transition (case-folded) → (action, forced severity, extra labels)
TRANSITIONS: dict[str, tuple[AlertAction, SeverityHint | None, dict[str, str]]] = {
    "triggered": (AlertAction.TRIGGER, None, {}),
    "re-triggered": (AlertAction.TRIGGER, None, {}),
    "renotify": (AlertAction.TRIGGER, None, {}),
    "warn": (AlertAction.TRIGGER, SeverityHint.WARNING, {}),
    "re-warn": (AlertAction.TRIGGER, SeverityHint.WARNING, {}),
    "no data": (AlertAction.TRIGGER, SeverityHint.WARNING, {"no_data": "true"}),
    "re-no data": (AlertAction.TRIGGER, SeverityHint.WARNING, {"no_data": "true"}),
    "recovered": (AlertAction.RESOLVE, None, {}),
}
# Template keys read into their own fields; any other key is kept in the details.
READ_FIELDS = frozenset(
    {
        *("alert_id", "alert_cycle_key", "transition", "alert_transition", "priority"),
        *("alert_priority", "title", "scope", "alert_scope", "tags", "link", "date", "org"),
        *("last_updated", "event_id", "id", "event_type", "body", "aggreg_key"),
    }
)
PRIORITY_SEVERITY = {
    "p1": SeverityHint.CRITICAL,
    "p2": SeverityHint.ERROR,
    "p3": SeverityHint.WARNING,
    "p4": SeverityHint.INFO,
    "p5": SeverityHint.INFO,
}


class DatadogAdapter:
    """The SourceAdapter for Datadog webhook notifications."""

    source = AlertSource.DATADOG

    def precheck(self, request: InboundRequest) -> None:
        if not request.header(AUTH_HEADER):
            raise Unauthorized(f"missing {AUTH_HEADER} header")

    def verify(self, request: InboundRequest, secret: str) -> bool:
        return same_secret(request.header(AUTH_HEADER) or "", secret)

    def parse(self, request: InboundRequest) -> ParsedDelivery:
        document = _document(request)
        title = _field(document, "title")
        dedup_key = _identity(document)
        title_transition, summary = _split_title(title)
        transition = _transition(document, title_transition)
        action, forced, extra_labels = TRANSITIONS[transition.casefold()]
        priority = _field(document, "priority", "alert_priority")
        labels = {"transition": transition, **extra_labels}
        for name, value in [("priority", priority), ("scope", _scope(document))]:
            if value:
                labels[name] = value
        event = AlertEvent(
            source=AlertSource.DATADOG,
            action=action,
            dedup_key=dedup_key,
            summary=summary or _field(document, "body") or f"Datadog monitor {dedup_key}",
            service=_service(document),
            severity_hint=forced or PRIORITY_SEVERITY.get((priority or "").casefold()),
            labels=labels,
            details=_details(document),
            links=[link for link in [_field(document, "link")] if link],
            occurred_at=_epoch_ms(_field(document, "date")),
            is_test=_is_test(title, document),
        )
        return ParsedDelivery([event], _delivery_key(document, dedup_key, transition))


def _document(request: InboundRequest) -> dict[str, Any]:
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        raise MalformedRequest(FORM_HINT)
    try:
        document = json.loads(request.body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"body is not JSON ({exc}); {FORM_HINT}") from exc
    if not isinstance(document, dict):
        raise MalformedRequest("body must be a JSON object (the webhook payload template)")
    return document


def _field(document: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` holding a real value; unexpanded ``$VARIABLE``s count as absent."""
    for name in names:
        value = document.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # an unquoted $ALERT_ID; Python ints keep every digit
        if isinstance(value, str):
            text = value.strip()
            if text and not UNEXPANDED.match(text):
                return text
    return None


def _identity(document: dict[str, Any]) -> str:
    """The monitor id. A template that has ``alert_id`` must fill it: falling back to the
    per-notification event id would leave the alert unresolvable by its ``Recovered``."""
    alert_id = _field(document, "alert_id")
    if alert_id:
        return alert_id
    if "alert_id" not in document:
        found = MONITOR_LINK.search(_field(document, "body") or "")
        fallback = found.group(1) if found else _field(document, "event_id", "id")
        if fallback:
            return fallback
    raise ValidationFailed(
        "alert_id is missing, empty or an unexpanded $ALERT_ID; the webhook payload needs "
        '"alert_id": "$ALERT_ID" and Datadog must fill it in',
        field="alert_id",
    )


def _transition(document: dict[str, Any], from_title: str | None) -> str:
    given = _field(document, "transition", "alert_transition")
    if given and given.casefold() in TRANSITIONS:
        return given
    if given:
        known = "Triggered, Re-Triggered, Renotify, Warn, Re-Warn, No Data, Re-No Data, Recovered"
        message = f"unknown transition '{given}'; expected one of {known}"
        raise ValidationFailed(message, field="transition")
    if from_title:
        return from_title
    raise ValidationFailed(
        'no transition: add "transition": "$ALERT_TRANSITION" to the webhook payload '
        "(or keep the [Triggered]/[Recovered] title prefix)",
        field="transition",
    )


def _split_title(title: str | None) -> tuple[str | None, str | None]:
    """The transition named by a leading ``[Triggered]`` or ``[Recovered on {host:a}]`` tag,
    and the title without that tag."""
    if not title:
        return None, None
    leading = LEADING_TAGS.match(title)
    for tag in BRACKETED.finditer(leading.group(0) if leading else ""):
        name = tag.group(1).split(" on ", 1)[0].strip()
        if name.casefold() in TRANSITIONS:
            rest = f"{title[: tag.start()].rstrip()} {title[tag.end() :].lstrip()}".strip()
            return name, rest or title
    return None, title


def _pairs(text: str | None) -> dict[str, str]:
    """``key:value`` entries of a comma-separated tag list or scope (first value per key)."""
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        key, sep, value = item.strip().partition(":")
        if sep and key and value:
            pairs.setdefault(key, value)
    return pairs


def _scope(document: dict[str, Any]) -> str | None:
    return _field(document, "scope", "alert_scope")


def _service(document: dict[str, Any]) -> str | None:
    tags = _pairs(_field(document, "tags"))
    return tags.get("service") or _pairs(_scope(document)).get("service")


def _details(document: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    names = ["alert_cycle_key", "event_id", "id", "event_type", "body", "aggreg_key"]
    for name in [*names, "date", "last_updated"]:
        value = _field(document, name)
        if value:
            details[name] = value
    for name, value in document.items():  # a template's own keys ("text", "msg", ...) are kept
        if name not in READ_FIELDS and name not in details and (kept := _kept(value)) is not None:
            details[name] = kept
    tags = _field(document, "tags")
    if tags:
        details["tags"] = [tag.strip() for tag in tags.split(",") if tag.strip()]
    org = document.get("org")
    if isinstance(org, dict):
        details["org"] = {k: v for k in ("id", "name") if (v := _field(org, k))}
    return details


def _kept(value: object) -> object:
    """A template value worth keeping: unexpanded variables and empty values are dropped."""
    if isinstance(value, str):
        text = value.strip()
        return text if text and not UNEXPANDED.match(text) else None
    if isinstance(value, dict | list):
        return value or None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_test(title: str | None, document: dict[str, Any]) -> bool:
    event_type = (_field(document, "event_type") or "").casefold()
    return "[TEST]" in (title or "").upper() or event_type == "test"


def _epoch_ms(value: str | None) -> datetime | None:
    if not value or not value.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _delivery_key(document: dict[str, Any], dedup_key: str, transition: str) -> str | None:
    moment = _field(document, "date") or _field(document, "event_id", "id")
    if moment is None:
        return None
    cycle = _field(document, "alert_cycle_key") or dedup_key
    return f"{cycle}|{transition}|{moment}"
