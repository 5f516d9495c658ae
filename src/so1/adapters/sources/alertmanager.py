"""Prometheus Alertmanager webhook (version 4) behind ``Authorization: Bearer <token>``.

Alertmanager signs nothing; its receiver's ``http_config.authorization`` sends our token.

Each alert in the group is read on its own: its own ``status`` (the group's is "firing" while any
alert fires), its ``fingerprint`` as identity, or, from older senders without one, a stable
hash of its sorted label set. A missing ``version`` or ``groupKey`` is tolerated; a version
other than "4" is refused.

Severity from ``labels.severity``: critical, error, warning and info map to themselves (also
``page``/``fatal`` → critical, ``warn`` → warning); any other value (``ticket``, ``none``...)
→ info; no label → no hint. Summary: the ``summary`` annotation (any case), else
``description``, else the alertname. Service: label ``service``, else ``job``, else ``app``.

No delivery key: Alertmanager resends whole groups on every repeat interval; alert-level
deduplication on the fingerprint is the store's job.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from so1.adapters.sources._values import json_object as _document
from so1.adapters.sources.base import InboundRequest, same_secret
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery, SeverityHint
from so1.errors import MalformedRequest, Unauthorized

SUPPORTED_VERSION = "4"
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: "0001-01-01T00:00:00Z"
STATUSES = {"firing": AlertAction.TRIGGER, "resolved": AlertAction.RESOLVE}
SEVERITIES = {
    "critical": SeverityHint.CRITICAL,
    "page": SeverityHint.CRITICAL,
    "fatal": SeverityHint.CRITICAL,
    "error": SeverityHint.ERROR,
    "warning": SeverityHint.WARNING,
    "warn": SeverityHint.WARNING,
    "info": SeverityHint.INFO,
}


class AlertmanagerAdapter:
    """The SourceAdapter for an Alertmanager ``webhook_config`` receiver."""

    source = AlertSource.ALERTMANAGER

    def precheck(self, request: InboundRequest) -> None:
        if _bearer(request) is None:
            raise Unauthorized("missing Authorization: Bearer <token> header")

    def verify(self, request: InboundRequest, secret: str) -> bool:
        return same_secret(_bearer(request) or "", secret)

    def parse(self, request: InboundRequest) -> ParsedDelivery:
        group = _document(request.body)
        version = group.get("version")
        if version is not None and str(version) != SUPPORTED_VERSION:
            raise MalformedRequest(f"unsupported webhook version {version!r}; expected '4'")
        alerts = group.get("alerts")
        if not isinstance(alerts, list):
            raise MalformedRequest("missing field 'alerts' (a JSON array)")
        if not alerts:
            return ParsedDelivery([], None, "the group carries no alerts")
        context = _group_context(group)
        group_status = group.get("status")
        events = [_alert(index, alert, group_status, context) for index, alert in enumerate(alerts)]
        return ParsedDelivery(events, None)


def _bearer(request: InboundRequest) -> str | None:
    scheme, _, token = (request.header("Authorization") or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _group_context(group: dict[str, Any]) -> dict[str, Any]:
    names = ("receiver", "groupKey", "externalURL", "truncatedAlerts")
    return {name: group[name] for name in names if group.get(name) is not None}


def _alert(index: int, alert: object, group_status: object, context: dict[str, Any]) -> AlertEvent:
    if not isinstance(alert, dict):
        raise MalformedRequest(f"alerts[{index}] must be a JSON object")
    status = alert.get("status", group_status)
    if not isinstance(status, str) or status not in STATUSES:
        raise MalformedRequest(f"alerts[{index}].status must be 'firing' or 'resolved'")
    labels = _strings(alert.get("labels"))
    annotations = _strings(alert.get("annotations"))
    starts, ends = _time(alert.get("startsAt")), _time(alert.get("endsAt"))
    details = {**context, "annotations": annotations, "startsAt": alert.get("startsAt")}
    if ends is not None:
        details["endsAt"] = alert.get("endsAt")
    generator = alert.get("generatorURL")
    return AlertEvent(
        source=AlertSource.ALERTMANAGER,
        action=STATUSES[status],
        dedup_key=_identity(alert.get("fingerprint"), labels),
        summary=_summary(annotations, labels),
        service=labels.get("service") or labels.get("job") or labels.get("app"),
        metric=labels.get("alertname"),
        severity_hint=_severity(labels.get("severity")),
        labels=labels,
        details=details,
        links=[generator] if isinstance(generator, str) and generator else [],
        occurred_at=ends if status == "resolved" and ends else starts,
    )


def _identity(fingerprint: object, labels: dict[str, str]) -> str:
    if isinstance(fingerprint, str) and fingerprint.strip():
        return fingerprint.strip()
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return "labels:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _summary(annotations: dict[str, str], labels: dict[str, str]) -> str:
    by_name = {name.lower(): value for name, value in annotations.items() if value.strip()}
    found = by_name.get("summary") or by_name.get("description") or labels.get("alertname")
    return found or "Alertmanager alert"


def _severity(value: str | None) -> SeverityHint | None:
    if value is None:
        return None
    return SEVERITIES.get(value.strip().lower(), SeverityHint.INFO)


def _strings(value: object) -> dict[str, str]:
    """A label or annotation map; Alertmanager only sends strings, anything else is dropped."""
    if not isinstance(value, dict):
        return {}
    return {str(key): item for key, item in value.items() if isinstance(item, str)}


def _time(value: object) -> datetime | None:
    """An RFC 3339 time (nanoseconds allowed); Go's zero time means "not set"."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None if parsed == ZERO_TIME else parsed
