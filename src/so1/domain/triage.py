"""The triage report's vocabulary (DESIGN §3): causes (extend, never rename one), the
classification, the escalation decision and the report status."""

from __future__ import annotations

import enum
from dataclasses import dataclass

CAUSES = frozenset(
    {
        "connection_exhaustion",
        "slow_queries",
        "memory_leak",
        "deployment_issue",
        "infrastructure_problem",
        "database_failure",
        "dependency_failure",
        "resource_exhaustion",
        "configuration_error",
        "traffic_surge",
        "security_breach",
        "unknown",
    }
)


class Classification(enum.StrEnum):
    """``incident`` when there is something to act on, whatever its severity."""

    INCIDENT = "incident"
    NON_INCIDENT = "non_incident"


class Escalation(enum.StrEnum):
    """The runbook's escalation decision: SEV0-1 immediate, SEV2-3 standard, SEV4 a ticket,
    a non-incident is closed."""

    IMMEDIATE = "immediate"
    STANDARD = "standard"
    TICKET = "ticket"
    CLOSE = "close"


class TriageStatus(enum.StrEnum):
    """``investigation_required`` when confidence is below 0.70 (the runbook's low-confidence
    row), else ``completed``."""

    COMPLETED = "completed"
    INVESTIGATION_REQUIRED = "investigation_required"


@dataclass(frozen=True, slots=True)
class SimilarIncident:
    """A resolved incident like the one being triaged, found by SO1 (TF-IDF similarity)."""

    incident_id: str
    title: str
    cause: str
    resolution: str | None
    score: float
