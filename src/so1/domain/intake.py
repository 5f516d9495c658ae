"""Intake vocabulary beside alerts: integrations, raw deliveries, correlation rules, silences,
flapping, and the catalog dependency graph used to decide which alerts belong together."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from so1.domain.alerts import Alert, AlertSource

FLAP_WINDOW = timedelta(minutes=30)
FLAPPING_AFTER = 3  # re-opened this many times within FLAP_WINDOW


@dataclass(frozen=True, slots=True)
class Integration:
    """A configured sender. ``secret`` signs (PagerDuty, Sentry) or authenticates (Datadog,
    Alertmanager tokens, Events v2 routing keys); the previous one stays valid for a while."""

    id: str
    source: AlertSource
    name: str
    secret: str
    created_at: datetime
    previous_secret: str | None = None
    previous_valid_until: datetime | None = None
    rotated_at: datetime | None = None
    disabled_at: datetime | None = None

    def valid_secrets(self, now: datetime) -> list[str]:
        if self.disabled_at is not None:
            return []
        result = [self.secret]
        if self.previous_secret and self.previous_valid_until and now < self.previous_valid_until:
            result.append(self.previous_secret)
        return result


def new_integration_secret(source: AlertSource) -> str:
    """Events v2 routing keys are 32 hex characters like PagerDuty's; others 256-bit tokens."""
    if source is AlertSource.EVENTS:
        return secrets.token_hex(16)
    return secrets.token_urlsafe(32)


class DeliveryOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Delivery:
    """An inbound request kept as received, before any processing."""

    source: AlertSource
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    outcome: DeliveryOutcome
    integration_id: str | None = None
    delivery_key: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    """Alerts that share ``group_by`` values (or sit on connected services when
    ``follow_dependencies``) within ``window`` join one incident; ``storm_threshold``
    related alerts make it a storm."""

    name: str
    group_by: list[str]
    window: timedelta
    storm_threshold: int
    follow_dependencies: bool = True
    enabled: bool = True
    id: int | None = None


DEFAULT_RULE = CorrelationRule(
    name="default",
    group_by=["service"],
    window=timedelta(minutes=10),
    storm_threshold=10,
    follow_dependencies=True,
)

SILENCE_FIELDS = ("service", "source", "metric", "dedup_key")


@dataclass(frozen=True, slots=True)
class Silence:
    """A maintenance window: matching alerts are kept but suppressed (no triage, no paging).
    ``matchers`` compares alert fields (service, source, metric, dedup_key) or labels
    (``labels.<name>``) for equality; every matcher must hold."""

    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None = None
    id: int | None = None

    def is_active(self, now: datetime) -> bool:
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert) -> bool:
        return all(_field_value(alert, key) == value for key, value in self.matchers.items())


def _field_value(alert: Alert, key: str) -> str | None:
    if key.startswith("labels."):
        return alert.labels.get(key.removeprefix("labels."))
    if key in SILENCE_FIELDS:
        value = getattr(alert, key)
        return None if value is None else str(value)
    return None


def is_flapping(flap_count: int) -> bool:
    return flap_count >= FLAPPING_AFTER


def connected_services(start: str, dependencies: Mapping[str, Iterable[str]]) -> set[str]:
    """``start`` plus every service reachable through the catalog's dependency edges, in
    either direction (a failing database and the API that depends on it belong together)."""
    neighbours: dict[str, set[str]] = {}
    for service, deps in dependencies.items():
        for dep in deps:
            neighbours.setdefault(service, set()).add(dep)
            neighbours.setdefault(dep, set()).add(service)
    seen = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for other in neighbours.get(current, ()):
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    return seen


def dependents_of(service: str, dependencies: Mapping[str, Iterable[str]]) -> set[str]:
    """Services that depend on ``service``, directly or transitively."""
    result: set[str] = set()
    frontier = [service]
    while frontier:
        current = frontier.pop()
        for other, deps in dependencies.items():
            if current in deps and other not in result and other != service:
                result.add(other)
                frontier.append(other)
    return result


@dataclass(frozen=True, slots=True)
class GroupKey:
    """The values an alert is grouped on under a rule (labels addressed as ``labels.x``)."""

    values: tuple[tuple[str, str | None], ...] = field(default_factory=tuple)


def group_key(alert: Alert, rule: CorrelationRule) -> GroupKey:
    return GroupKey(tuple((name, _group_value(alert, name)) for name in rule.group_by))


def _group_value(alert: Alert, name: str) -> str | None:
    if name.startswith("labels."):
        return alert.labels.get(name.removeprefix("labels."))
    value: Any = getattr(alert, name, None)
    return None if value is None else str(value)
