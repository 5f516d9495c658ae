"""Triage inputs from JSON, as the scenario files and unit tests write them: the seed's request
(``alert_id``, ``alert_source``, ``alert_data``) plus a ``context`` (now, services,
deployments, flag changes, related alerts, incident id, similar incidents).

The alert goes through the HTTP edge's own model (so unknown keys land in the details as they
do on ``/v1/orchestrate``); the context's records are the domain dataclasses, validated by
pydantic. ``status`` and ``is_test`` in ``alert_data`` set the alert's own fields (a stored
alert carries them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from so1.agents.triage import ServiceFlagChange, TriageInput
from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus, SeverityHint
from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FlagChange
from so1.domain.triage import SimilarIncident
from so1.entrypoints.api.triage_schemas import triage_request

_TIME = TypeAdapter(AwareDatetime)
_SERVICE = TypeAdapter(CatalogService)
_DEPLOYMENT = TypeAdapter(Deployment)
_FLAG = TypeAdapter(FlagChange)
_SIMILAR = TypeAdapter(SimilarIncident)


def triage_input(raw: Mapping[str, Any]) -> TriageInput:
    ctx: Mapping[str, Any] = raw.get("context") or {}
    now = _TIME.validate_python(ctx.get("now", "2024-01-15T14:45:00Z"))
    return TriageInput(
        alert=main_alert(raw, now),
        now=now,
        services=tuple(_SERVICE.validate_python(s) for s in ctx.get("services") or []),
        deployments=tuple(_DEPLOYMENT.validate_python(d) for d in ctx.get("deployments") or []),
        flag_changes=tuple(_flag(f) for f in ctx.get("flag_changes") or []),
        related_alerts=tuple(related_alert(a, now) for a in ctx.get("related_alerts") or []),
        incident_id=ctx.get("incident_id"),
        similar_incidents=tuple(
            _SIMILAR.validate_python(s) for s in ctx.get("similar_incidents") or []
        ),
    )


def main_alert(raw: Mapping[str, Any], now: datetime) -> Alert:
    seed = {k: raw[k] for k in ("alert_id", "alert_source", "alert_data") if k in raw}
    event = triage_request(seed).event
    details = dict(event.details)
    status = AlertStatus(details.pop("status", "firing"))
    is_test = bool(details.pop("is_test", False))
    return Alert(
        id=str(raw["alert_id"]),
        source=event.source,
        dedup_key=event.dedup_key,
        status=status,
        summary=event.summary,
        first_seen_at=now,
        last_seen_at=now,
        service=event.service,
        metric=event.metric,
        current_value=event.current_value,
        threshold=event.threshold,
        severity_hint=event.severity_hint,
        labels=event.labels,
        details=details,
        is_test=is_test,
    )


def related_alert(m: Mapping[str, Any], now: datetime) -> Alert:
    source = m.get("source") or "events"
    first_seen = _TIME.validate_python(m["first_seen_at"]) if m.get("first_seen_at") else now
    value, threshold = m.get("current_value"), m.get("threshold")
    hint = m.get("severity_hint")
    return Alert(
        id=str(m.get("id") or "related"),
        source=AlertSource(source) if source in set(AlertSource) else AlertSource.EVENTS,
        dedup_key=str(m.get("id") or "related"),
        status=AlertStatus(m.get("status", "firing")),
        summary=str(m.get("summary") or ""),
        first_seen_at=first_seen,
        last_seen_at=now,
        dedup_count=int(m.get("dedup_count") or 1),
        service=m.get("service"),
        metric=m.get("metric"),
        current_value=None if value is None else str(value),
        threshold=None if threshold is None else str(threshold),
        severity_hint=SeverityHint(hint) if hint else None,
        labels={str(k): str(v) for k, v in (m.get("labels") or {}).items()},
        details=dict(m.get("details") or {}),
        is_test=bool(m.get("is_test", False)),
    )


def _flag(m: Mapping[str, Any]) -> ServiceFlagChange:
    fields = {k: v for k, v in m.items() if k != "service"}
    change = _FLAG.validate_python({"actor": "", "reason": None, **fields})
    return ServiceFlagChange(change, m.get("service"))


def stored(event: AlertEvent, now: datetime) -> Alert:
    """The alert intake stores for ``event`` (what the triage worker reads back)."""
    return Alert(
        id="alt_test",
        source=event.source,
        dedup_key=event.dedup_key,
        status=AlertStatus.FIRING,
        summary=event.summary,
        first_seen_at=now,
        last_seen_at=now,
        service=event.service,
        metric=event.metric,
        current_value=event.current_value,
        threshold=event.threshold,
        severity_hint=event.severity_hint,
        labels=event.labels,
        details=event.details,
        is_test=event.is_test,
    )
