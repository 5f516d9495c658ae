"""Request and response bodies for alerts, correlation rules and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from so1.domain.alerts import AlertSource, AlertStatus, SeverityHint
from so1.entrypoints.api.schemas import Strict


class AlertIn(Strict):
    """The generic events API, in the spirit of PagerDuty Events v2."""

    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    source: str = Field(min_length=1, max_length=100, description="the monitoring tool")
    service: str | None = Field(default=None, min_length=1, max_length=100)
    metric: str | None = Field(default=None, max_length=200)
    current_value: str | float | None = None
    threshold: str | None = Field(default=None, max_length=100)
    summary: str | None = Field(default=None, min_length=1, max_length=1024)
    severity: Literal["critical", "error", "warning", "info"] | None = None
    timestamp: AwareDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    test: bool = False

    @model_validator(mode="after")
    def _needs(self) -> AlertIn:
        if self.event_action == "trigger" and not self.summary:
            raise ValueError("summary is required to trigger an alert")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError(f"dedup_key is required to {self.event_action} an alert")
        if isinstance(self.current_value, float) and self.current_value != self.current_value:
            raise ValueError("current_value is not a number (NaN)")
        return self


class AlertOut(BaseModel):
    id: str
    source: AlertSource
    dedup_key: str
    status: AlertStatus
    summary: str
    service: str | None
    metric: str | None
    current_value: str | None
    threshold: str | None
    severity_hint: SeverityHint | None
    labels: dict[str, str]
    details: dict[str, Any]
    dedup_count: int
    flap_count: int
    flapping: bool = False
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    incident_id: str | None
    integration_id: str | None
    is_test: bool
    closed_reason: str | None

    @model_validator(mode="after")
    def _flapping(self) -> AlertOut:
        self.flapping = self.flap_count >= 3
        return self


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class RuleIn(Strict):
    group_by: list[str] = Field(default_factory=lambda: ["service"], max_length=10)
    follow_dependencies: bool = True
    window_seconds: int = Field(default=600, ge=10, le=86_400)
    storm_threshold: int = Field(default=10, ge=2, le=100_000)
    enabled: bool = True


class RuleOut(RuleIn):
    name: str


class DryRunGroup(BaseModel):
    key: dict[str, str | None]
    alert_ids: list[str]
    services: list[str]
    storm: bool


class DryRunOut(BaseModel):
    rule: RuleOut
    hours: float
    alerts_considered: int
    groups: list[DryRunGroup]


class SilenceIn(Strict):
    matchers: dict[str, str] = Field(
        min_length=1, description="service, source, metric, dedup_key or labels.<name>"
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 90)
    reason: str = Field(min_length=1, max_length=2_000)


class SilenceOut(BaseModel):
    id: int
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None
    active: bool
