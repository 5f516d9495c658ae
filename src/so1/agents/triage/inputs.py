"""The triage-responder's inputs, validated into frozen dataclasses.

Every problem raises ValueError naming the field by its path (``alert_data.severity_hint``,
``context.services[2].tier``); the caller turns it into a failed run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

HINTS = ("critical", "error", "warning", "info")
ALERT_STATUSES = ("firing", "acknowledged", "resolved")
RELATED_STATUSES = (*ALERT_STATUSES, "suppressed")
TIERS = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class AlertInfo:
    """The alert under triage, or one of the related alerts SO1 found for it."""

    id: str | None
    service: str | None
    source: str | None = None
    metric: str | None = None
    current_value: str | float | None = None
    threshold: str | None = None
    summary: str = ""
    severity_hint: str | None = None
    status: str = "firing"
    is_test: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    first_seen_at: datetime | None = None
    dedup_count: int = 1


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    tier: str | None = None
    owner_team: str | None = None
    users: int | None = None
    dependencies: tuple[str, ...] = ()
    baselines: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    service: str
    version: str
    previous_version: str | None = None
    deployed_at: datetime | None = None
    deployed_by: str | None = None
    commit_sha: str | None = None
    status: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlagChangeInfo:
    key: str
    enabled_after: bool
    service: str | None = None
    enabled_before: bool | None = None
    actor: str | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TriageInput:
    alert: AlertInfo
    now: datetime | None = None
    services: tuple[ServiceInfo, ...] = ()
    deployments: tuple[DeploymentInfo, ...] = ()
    flag_changes: tuple[FlagChangeInfo, ...] = ()
    related_alerts: tuple[AlertInfo, ...] = ()
    incident_id: str | None = None


def parse_inputs(inputs: Mapping[str, Any]) -> TriageInput:
    """Validate the agent's inputs; raises ValueError naming the first bad field."""
    if not isinstance(inputs, Mapping):
        raise ValueError("inputs must be an object")
    alert_id = _text(inputs, "alert_id", "", required=True)
    source = _text(inputs, "alert_source", "", required=True)
    data = _mapping(inputs.get("alert_data"), "alert_data", required=True)
    alert = _alert(data, "alert_data.", alert_id, source, ALERT_STATUSES)
    if alert.service is None:
        raise ValueError("alert_data.service is required")
    ctx = _mapping(inputs.get("context"), "context", required=False)
    return TriageInput(
        alert=alert,
        now=_time(ctx.get("now"), "context.now"),
        services=tuple(_service(m, p) for m, p in _items(ctx, "services")),
        deployments=tuple(_deployment(m, p) for m, p in _items(ctx, "deployments")),
        flag_changes=tuple(_flag(m, p) for m, p in _items(ctx, "flag_changes")),
        related_alerts=tuple(_related(m, p) for m, p in _items(ctx, "related_alerts")),
        incident_id=_text(ctx, "incident_id", "context."),
    )


def _alert(
    m: Mapping[str, Any],
    prefix: str,
    alert_id: str | None,
    source: str | None,
    statuses: tuple[str, ...],
) -> AlertInfo:
    hint = _text(m, "severity_hint", prefix)
    status = _text(m, "status", prefix) or "firing"
    return AlertInfo(
        id=alert_id,
        source=source,
        service=_text(m, "service", prefix),
        metric=_text(m, "metric", prefix),
        current_value=_value(m.get("current_value"), f"{prefix}current_value"),
        threshold=_threshold(m.get("threshold"), f"{prefix}threshold"),
        summary=_text(m, "summary", prefix) or "",
        severity_hint=_choice(hint, HINTS, f"{prefix}severity_hint"),
        status=_choice(status, statuses, f"{prefix}status") or "firing",
        is_test=_flag_value(m.get("is_test"), f"{prefix}is_test") or False,
        labels=_labels(m.get("labels"), f"{prefix}labels"),
        details=dict(_mapping(m.get("details"), f"{prefix}details", required=False)),
    )


def _related(m: Mapping[str, Any], path: str) -> AlertInfo:
    prefix = f"{path}."
    base = _alert(m, prefix, _text(m, "id", prefix), _text(m, "source", prefix), RELATED_STATUSES)
    count = m.get("dedup_count", 1)
    if count is None:
        count = 1
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{prefix}dedup_count must be a non-negative integer")
    first_seen = _time(m.get("first_seen_at"), f"{prefix}first_seen_at")
    return replace(base, first_seen_at=first_seen, dedup_count=count)


def _service(m: Mapping[str, Any], path: str) -> ServiceInfo:
    prefix = f"{path}."
    users = m.get("users")
    if users is not None and (isinstance(users, bool) or not isinstance(users, int) or users < 0):
        raise ValueError(f"{prefix}users must be a non-negative integer or null")
    return ServiceInfo(
        name=_text(m, "name", prefix, required=True) or "",
        tier=_choice(_text(m, "tier", prefix), TIERS, f"{prefix}tier"),
        owner_team=_text(m, "owner_team", prefix),
        users=users,
        dependencies=_names(m.get("dependencies"), f"{prefix}dependencies"),
        baselines=dict(_mapping(m.get("baselines"), f"{prefix}baselines", required=False)),
    )


def _deployment(m: Mapping[str, Any], path: str) -> DeploymentInfo:
    prefix = f"{path}."
    return DeploymentInfo(
        service=_text(m, "service", prefix, required=True) or "",
        version=_text(m, "version", prefix, required=True) or "",
        previous_version=_text(m, "previous_version", prefix),
        deployed_at=_time(m.get("deployed_at"), f"{prefix}deployed_at"),
        deployed_by=_text(m, "deployed_by", prefix),
        commit_sha=_text(m, "commit_sha", prefix),
        status=_text(m, "status", prefix),
        config=dict(_mapping(m.get("config"), f"{prefix}config", required=False)),
    )


def _flag(m: Mapping[str, Any], path: str) -> FlagChangeInfo:
    prefix = f"{path}."
    after = _flag_value(m.get("enabled_after"), f"{prefix}enabled_after")
    if after is None:
        raise ValueError(f"{prefix}enabled_after is required")
    return FlagChangeInfo(
        key=_text(m, "key", prefix, required=True) or "",
        enabled_after=after,
        service=_text(m, "service", prefix),
        enabled_before=_flag_value(m.get("enabled_before"), f"{prefix}enabled_before"),
        actor=_text(m, "actor", prefix),
        changed_at=_time(m.get("changed_at"), f"{prefix}changed_at"),
    )


def _items(ctx: Mapping[str, Any], key: str) -> list[tuple[Mapping[str, Any], str]]:
    raw = ctx.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise ValueError(f"context.{key} must be a list")
    path = f"context.{key}"
    return [
        (_mapping(item, f"{path}[{i}]", required=True), f"{path}[{i}]")
        for i, item in enumerate(raw)
    ]


def _mapping(raw: object, path: str, *, required: bool) -> Mapping[str, Any]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} must be an object")
    return raw


def _text(m: Mapping[str, Any], key: str, prefix: str, *, required: bool = False) -> str | None:
    raw = m.get(key)
    if raw is None:
        if required:
            raise ValueError(f"{prefix}{key} is required")
        return None
    if not isinstance(raw, str):
        raise ValueError(f"{prefix}{key} must be a string")
    if not raw.strip():
        if required:
            raise ValueError(f"{prefix}{key} must not be empty")
        return None
    return raw.strip()


def _choice(value: str | None, allowed: tuple[str, ...], path: str) -> str | None:
    if value is None:
        return None
    if value.lower() not in allowed:
        raise ValueError(f"{path} must be one of {', '.join(allowed)}")
    return value.lower()


def _value(raw: object, path: str) -> str | float | None:
    if raw is None or isinstance(raw, str | int | float):
        return float(raw) if isinstance(raw, bool) else raw
    raise ValueError(f"{path} must be a string or a number")


def _threshold(raw: object, path: str) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"{path} must be a string or a number")


def _flag_value(raw: object, path: str) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise ValueError(f"{path} must be true or false")


def _labels(raw: object, path: str) -> dict[str, str]:
    labels = _mapping(raw, path, required=False)
    out: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            raise ValueError(f"{path} must map strings to strings")
        out[key] = str(value)
    return out


def _names(raw: object, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"{path} must be a list of service names")
    return tuple(raw)


def _time(raw: object, path: str) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValueError(f"{path} must be an ISO-8601 timestamp") from None
    else:
        raise ValueError(f"{path} must be an ISO-8601 timestamp")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
