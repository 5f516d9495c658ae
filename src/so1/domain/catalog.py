"""The service catalog: what runs, how critical it is, who owns it, what it depends on."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Tier(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class CatalogService:
    """A service in the catalog; ``baselines`` holds normal metric values (e.g. error_rate)."""

    name: str
    tier: Tier
    owner_team: str | None = None
    users: int | None = None
    dependencies: list[str] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)
    platform: str | None = None
    description: str | None = None
    public_name: str | None = None  # what customers call it (status page), e.g. "API"
    metric_queries: dict[str, str] = field(default_factory=dict)  # PromQL per metric name
    health_url: str | None = None  # its own health check, probed while it has open incidents
    updated_at: datetime | None = None
