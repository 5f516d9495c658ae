"""Alerts: the one normalised shape every monitoring source is turned into, and its states."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


class AlertSource(enum.StrEnum):
    EVENTS = "events"  # SO1's generic events API and the PagerDuty Events v2 compatible intake
    PAGERDUTY = "pagerduty"
    DATADOG = "datadog"
    SENTRY = "sentry"
    ALERTMANAGER = "alertmanager"


class AlertAction(enum.StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ANNOTATE = "annotate"  # a note for the alert's incident; never changes status


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SUPPRESSED = "suppressed"

    @property
    def is_open(self) -> bool:
        return self is not AlertStatus.RESOLVED


class SeverityHint(enum.StrEnum):
    """The sender's own urgency, normalised to PagerDuty's four levels."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One thing a monitoring source said, normalised. ``dedup_key`` is the vendor's identity
    of the alert (Events dedup_key, PagerDuty incident id, Sentry issue id, Alertmanager
    fingerprint, Datadog alert id)."""

    source: AlertSource
    action: AlertAction
    dedup_key: str
    summary: str
    service: str | None = None
    metric: str | None = None
    current_value: str | None = None
    threshold: str | None = None
    severity_hint: SeverityHint | None = None
    labels: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    occurred_at: datetime | None = None
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    """What one inbound request carried: zero or more events, or why it was ignored.

    ``delivery_key`` identifies a redelivery of the same request (PagerDuty X-Webhook-Id,
    Datadog cycle key + transition + date, Sentry resource + action + issue id)."""

    events: list[AlertEvent]
    delivery_key: str | None = None
    ignored_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored alert: one per open (source, dedup_key); duplicates bump ``dedup_count``."""

    id: str
    source: AlertSource
    dedup_key: str
    status: AlertStatus
    summary: str
    first_seen_at: datetime
    last_seen_at: datetime
    dedup_count: int = 1
    service: str | None = None
    metric: str | None = None
    current_value: str | None = None
    threshold: str | None = None
    severity_hint: SeverityHint | None = None
    labels: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    integration_id: str | None = None
    incident_id: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    is_test: bool = False
    flap_count: int = 0
    closed_reason: str | None = None


def storable(value: Any) -> Any:
    """``value`` with what no database can store in text replaced: NUL characters (refused by
    PostgreSQL) and lone UTF-16 surrogates (not UTF-8). Vendor payloads are kept, not refused."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def _is_storable(value: Any) -> bool:
    """Whether ``storable`` would give ``value`` back unchanged (most events): checked
    without building the copy."""
    if isinstance(value, str):
        return "\x00" not in value and (value.isascii() or storable(value) == value)
    if isinstance(value, dict):
        return all(_is_storable(k) and _is_storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_storable(v) for v in value)
    return True


_EVENT_TEXTS = ("dedup_key", "summary", "service", "metric", "current_value", "threshold")


def storable_event(event: AlertEvent) -> AlertEvent:
    """``event`` with its text made storable (``storable``); itself when it already is."""
    parts = (*_EVENT_TEXTS, "labels", "details", "links")
    if all(_is_storable(getattr(event, name)) for name in parts):
        return event
    changes: dict[str, Any] = {name: storable(getattr(event, name)) for name in _EVENT_TEXTS}
    changes.update(
        labels=storable(event.labels), details=storable(event.details), links=storable(event.links)
    )
    return replace(event, **changes)
