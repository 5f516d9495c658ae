"""The triage-responder's request at the HTTP edge: the seed's JSON (``alert_id``,
``alert_source``, ``alert_data``) validated once into the types the triage service takes.

``alert_data`` keeps every key it is sent: the measured fields (service, metric, current value,
threshold), the summary, the sender's hint and labels are read as such; everything else (the
vendors' ``message``, ``title``, ``body``, ``text``, ``description``, ``annotations``,
``custom_details``, or any other key) is kept in the alert's details, where triage reads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, SeverityHint
from so1.entrypoints.api.schemas import Strict
from so1.errors import ValidationFailed
from so1.services.triage.requests import TriageRequest

MAX_SUMMARY = 1024
# Fields whose text stands in for a missing summary, in this order (the vendors' names).
SUMMARY_FALLBACKS = ("title", "message", "description", "text", "body")
_READ = ("service", "metric", "current_value", "threshold", "summary", "severity_hint", "labels")
# The senders' own urgency under their own names (``severity``, Sentry's ``level``, an
# Alertmanager ``severity`` label, PagerDuty priorities), as SO1's four hints.
HINTS = {
    **dict.fromkeys(
        ("critical", "fatal", "p1", "sev1", "emergency", "page"), SeverityHint.CRITICAL
    ),
    **dict.fromkeys(("error", "high", "p2", "major"), SeverityHint.ERROR),
    **dict.fromkeys(("warning", "warn", "medium", "p3", "minor"), SeverityHint.WARNING),
    **dict.fromkeys(
        ("info", "low", "debug", "p4", "p5", "informational", "none"), SeverityHint.INFO
    ),
}


class AlertDataIn(BaseModel):
    """The alert as the seed sends it; unknown keys are allowed and kept."""

    model_config = ConfigDict(extra="allow")

    service: str = Field(min_length=1, max_length=100)
    metric: str | None = Field(default=None, max_length=200)
    current_value: str | float | None = None
    threshold: str | float | None = None
    summary: str | None = None
    severity_hint: SeverityHint | None = None
    labels: dict[str, str | int | float | bool] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)

    def hint(self) -> SeverityHint | None:
        """``severity_hint``, else the sender's ``severity``, ``level`` or severity label."""
        if self.severity_hint is not None:
            return self.severity_hint
        extra = self.model_extra or {}
        for said in (extra.get("severity"), extra.get("level"), self.labels.get("severity")):
            if isinstance(said, str) and said.strip().lower() in HINTS:
                return HINTS[said.strip().lower()]
        return None

    def details_kept(self) -> dict[str, Any]:
        """``details`` plus every key not read as a field of its own."""
        extra = {k: v for k, v in (self.model_extra or {}).items() if k not in _READ}
        return {**self.details, **extra}

    def summary_text(self) -> str:
        """The summary, else the first vendor text field, else what was measured."""
        kept = self.details_kept()
        found = self.summary or next(
            (kept[k] for k in SUMMARY_FALLBACKS if isinstance(kept.get(k), str) and kept[k]),
            None,
        )
        if isinstance(found, str) and found.strip():
            return found.strip()[:MAX_SUMMARY]
        measured = f"{self.metric} {_text(self.current_value)} (threshold {_text(self.threshold)})"
        return f"{measured} on {self.service}"[:MAX_SUMMARY]


class TriageRequestIn(Strict):
    alert_id: str = Field(min_length=1, max_length=255)
    alert_source: str = Field(default="orchestrate", min_length=1, max_length=100)
    alert_data: AlertDataIn

    def request(self) -> TriageRequest:
        data = self.alert_data
        labels = {k: str(v) for k, v in data.labels.items()}
        event = AlertEvent(
            source=AlertSource.EVENTS,
            action=AlertAction.TRIGGER,
            dedup_key=self.alert_id,
            summary=data.summary_text(),
            service=data.service,
            metric=data.metric,
            current_value=_text(data.current_value),
            threshold=_text(data.threshold),
            severity_hint=data.hint(),
            labels={**labels, "origin": self.alert_source},
            details=data.details_kept(),
        )
        return TriageRequest(self.alert_id, event)


def triage_request(inputs: dict[str, Any]) -> TriageRequest:
    """The seed's inputs as a TriageRequest; ValidationFailed (422) names the first bad field."""
    try:
        return TriageRequestIn.model_validate(inputs).request()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["inputs", *(str(p) for p in first["loc"])])
        raise ValidationFailed(f"{where}: {first['msg']}", where) from None


def _text(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
