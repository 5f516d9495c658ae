"""Changes to production that investigations look at: deployments and feature flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Deployment:
    service: str
    version: str
    deployed_at: datetime
    deployed_by: str | None = None
    commit_sha: str | None = None
    status: str = "succeeded"
    platform: str | None = None
    platform_deployment_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    notes: str | None = None
    previous_version: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FeatureFlag:
    key: str
    enabled: bool
    updated_at: datetime
    updated_by: str
    description: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class FlagChange:
    key: str
    enabled_before: bool | None
    enabled_after: bool
    actor: str
    reason: str | None
    changed_at: datetime
