"""Request and response bodies of the HTTP API (Pydantic v2, unknown fields refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from so1.domain.catalog import Tier
from so1.domain.health import health_url_problem
from so1.domain.incidents import IncidentStatus
from so1.domain.json_limits import json_problem
from so1.domain.metrics import METRICS
from so1.domain.participants import Role
from so1.domain.severity import Severity

Name = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


class Strict(BaseModel):
    """Request bodies: unknown fields refused; and in every field, text the databases cannot
    store, non-finite numbers, JSON nested too deep or too big (domain.json_limits) refused,
    naming the field and the place inside it."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_unstorable(cls, value: Any, info: ValidationInfo) -> Any:
        found = json_problem(value, info.field_name or "body")
        if found:
            raise ValueError(found)
        return value


class IncidentCreate(Strict):
    title: str = Field(min_length=1, max_length=300)
    severity: Severity
    status: Literal["triggered", "investigating"] = "triggered"
    service: str | None = Field(default=None, min_length=1, max_length=100)
    summary: str | None = Field(default=None, max_length=10_000)
    impact: dict[str, Any] = Field(default_factory=dict)
    commander: str | None = Field(default=None, min_length=1, max_length=100)
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    detected_at: AwareDatetime | None = None
    customer_summary: str | None = Field(
        default=None,
        max_length=2_000,
        description="what customers are told (status page); never the internal title",
    )


class IncidentUpdate(Strict):
    """Partial update; the seed's close call sets status, resolution_summary, resolved_at."""

    status: IncidentStatus | None = None
    severity: Severity | None = None
    severity_reason: str | None = Field(default=None, max_length=2_000)
    resolution_summary: str | None = Field(default=None, max_length=10_000)
    resolved_at: AwareDatetime | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    summary: str | None = Field(default=None, max_length=10_000)
    service: str | None = Field(default=None, min_length=1, max_length=100)
    impact: dict[str, Any] | None = None
    commander: str | None = Field(default=None, min_length=1, max_length=100)
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    customer_summary: str | None = Field(
        default=None,
        max_length=2_000,
        description="what customers are told (status page); never the internal title",
    )


class IncidentOut(BaseModel):
    id: str
    title: str
    status: IncidentStatus
    severity: Severity
    service: str | None
    summary: str | None
    impact: dict[str, Any]
    commander: str | None
    channel: str | None
    resolution_summary: str | None
    customer_summary: str | None = None
    detected_at: datetime
    acknowledged_at: datetime | None = Field(
        description="set only by an acknowledgement (POST .../acknowledge, CLI, web, Slack 👀,"
        " PagerDuty); null when nobody acknowledged"
    )
    acknowledged_by: str | None = Field(default=None, description="who acknowledged")
    acknowledged_via: str | None = Field(
        default=None, description="api, cli, web, slack, pagerduty or integration"
    )
    declared_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    storm: bool
    private: bool = Field(
        default=False, description="a security incident: only keys with `security` see it"
    )
    version: int
    next_statuses: list[IncidentStatus]


class AttachedAlertOut(BaseModel):
    """An alert attached to the incident (the first one, or one that joined it later)."""

    id: str
    source: str
    summary: str
    service: str | None
    metric: str | None
    status: str
    first_seen_at: datetime
    last_seen_at: datetime


class IncidentDetailOut(IncidentOut):
    """One incident, with the alerts attached to it (newest first, up to 50)."""

    alerts: list[AttachedAlertOut] = Field(default_factory=list)
    alert_count: int = Field(default=0, description="every alert attached, shown or not")


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    limit: int
    offset: int


class TimelineEventOut(BaseModel):
    occurred_at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]


class SeverityChangeOut(BaseModel):
    from_severity: Severity | None
    to_severity: Severity
    actor: str
    reason: str | None
    changed_at: datetime


class TimelineOut(BaseModel):
    incident_id: str
    events: list[TimelineEventOut]
    severity_history: list[SeverityChangeOut]


class RoleChange(Strict):
    handle: str = Name
    role: Role


class PageIn(Strict):
    """Page a person (``handle``) or a team's on-call (``team``) into the incident."""

    handle: str | None = Field(default=None, min_length=1, max_length=100)
    team: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


class PageOut(BaseModel):
    incident_id: str
    handle: str
    team: str | None
    reason: str
    paged_at: datetime


class ParticipantOut(BaseModel):
    handle: str
    role: Role
    assumed_at: datetime
    renounced_at: datetime | None


class DeploymentIn(Strict):
    service: str = Name
    version: str = Field(min_length=1, max_length=100)
    deployed_at: AwareDatetime | None = None
    deployed_by: str | None = Field(default=None, max_length=100)
    commit_sha: str | None = Field(default=None, max_length=64)
    status: Literal["succeeded", "failed", "in_progress", "rolled_back"] = "succeeded"
    platform: str | None = Field(default=None, max_length=50)
    platform_deployment_id: str | None = Field(default=None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict)
    notes: str | None = Field(default=None, max_length=10_000)


class DeploymentOut(BaseModel):
    id: int
    service: str
    version: str
    previous_version: str | None
    deployed_at: datetime
    deployed_by: str | None
    commit_sha: str | None
    status: str
    platform: str | None
    platform_deployment_id: str | None
    config: dict[str, Any]
    notes: str | None


class RecentDeployments(BaseModel):
    hours: float
    service: str | None
    deployments: list[DeploymentOut]


class ServiceIn(Strict):
    tier: Tier
    owner_team: str | None = Field(default=None, max_length=100)
    users: int | None = Field(default=None, ge=0, le=2_147_483_647)
    dependencies: list[str] = Field(default_factory=list)
    baselines: dict[str, Any] = Field(default_factory=dict)
    platform: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=10_000)
    public_name: str | None = Field(
        default=None, max_length=100, description="what customers call it (status page)"
    )
    metric_queries: dict[str, str] = Field(
        default_factory=dict,
        description="PromQL per metric name (error_rate, latency_p99_ms, ...) replacing the"
        " defaults; $service and $window are filled in",
    )

    health_url: str | None = Field(
        default=None,
        max_length=500,
        description="the service's own health check (http or https), probed while it has open"
        " incidents: the 'health checks passing' gate",
    )

    @field_validator("health_url")
    @classmethod
    def http_url(cls, url: str | None) -> str | None:
        if url is not None and health_url_problem(url):
            raise ValueError(health_url_problem(url))
        return url

    @field_validator("metric_queries")
    @classmethod
    def known_metrics(cls, queries: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(queries) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metric '{unknown[0]}' (known: {', '.join(METRICS)})")
        return queries


class ServiceOut(ServiceIn):
    model_config = ConfigDict(extra="ignore")
    name: str
    updated_at: datetime | None


FLAG_INCIDENT = (
    "the incident whose timeline records the flip (default: the open incidents of the flag's"
    " service)"
)


class FlagPut(Strict):
    enabled: bool
    description: str | None = Field(default=None, max_length=2_000)
    service: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2_000)
    incident_id: str | None = Field(default=None, max_length=40, description=FLAG_INCIDENT)


class FlagPatch(Strict):
    """The seed's ``{"enabled": false}``, optionally with why."""

    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=2_000)
    reason: str | None = Field(default=None, max_length=2_000)
    incident_id: str | None = Field(default=None, max_length=40, description=FLAG_INCIDENT)


class FlagOut(BaseModel):
    key: str
    enabled: bool
    description: str | None
    service: str | None
    updated_at: datetime
    updated_by: str


class FlagChangeOut(BaseModel):
    enabled_before: bool | None
    enabled_after: bool
    actor: str
    reason: str | None
    changed_at: datetime


class OrchestrateIn(Strict):
    agent: str = Field(min_length=1, max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)


class RunOut(BaseModel):
    run_id: str
    agent: str
    status: Literal["awaiting_approval", "running", "completed", "failed"]
    output: dict[str, Any] | None
    error: str | None
    incident_id: str | None
    started_at: datetime
    finished_at: datetime | None
    already_declared: bool = False  # a repeated declaration: nothing was sent again


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    outcome: str
    source_ip: str | None
    detail: dict[str, Any]
    incident_id: str | None = None


class HealthOut(BaseModel):
    status: Literal["healthy", "unhealthy"]
    checks: dict[str, str]
    version: str
