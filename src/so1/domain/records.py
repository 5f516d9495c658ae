"""Records kept beside the incident: audit entries and agent runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to which resource, from where, and how it ended."""

    at: datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    outcome: Outcome
    source_ip: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    incident_id: str | None = None  # the incident the change concerns: clearance filters on it


class AgentName(enum.StrEnum):
    """The seed's four agents, by the names `POST /v1/orchestrate` takes and runs record."""

    TRIAGE = "triage-responder"
    COMMANDER = "incident-commander"
    DEPLOYER = "railway-deployer"
    POSTMORTEM = "postmortem-analyst"


class RunStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # a platform action waiting for a human's yes
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AgentRun:
    id: str
    agent: str
    status: RunStatus
    inputs: dict[str, Any]
    started_at: datetime
    actor: str
    output: dict[str, Any] | None = None
    error: str | None = None
    finished_at: datetime | None = None
    incident_id: str | None = None
