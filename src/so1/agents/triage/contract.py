"""The triage-responder's contract: what it is given and what it reports, as frozen dataclasses.

The inputs are the domain's own records (the alert, the catalog entries, deployments, flag
changes, similar past incidents), so the service layer hands them over as they come from the
database and the HTTP edge validates JSON into the same types. The report serialises to
DESIGN §3's JSON (``TriageReport.as_json``), the shape ``/v1/orchestrate`` returns and the run
keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from so1.domain.alerts import Alert
from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FlagChange
from so1.domain.severity import Severity
from so1.domain.triage import Classification, Escalation, SimilarIncident, TriageStatus

TRIAGE_AGENT = "triage-responder"


@dataclass(frozen=True, slots=True)
class ServiceFlagChange:
    """A feature flag flip and the service the flag belongs to (None: not tied to one)."""

    change: FlagChange
    service: str | None = None


@dataclass(frozen=True, slots=True)
class TriageInput:
    """One alert to triage and what SO1 knows around it (DESIGN §3 inputs)."""

    alert: Alert
    now: datetime
    services: tuple[CatalogService, ...] = ()  # the alert's service and those connected to it
    deployments: tuple[Deployment, ...] = ()
    flag_changes: tuple[ServiceFlagChange, ...] = ()
    related_alerts: tuple[Alert, ...] = ()
    incident_id: str | None = None
    similar_incidents: tuple[SimilarIncident, ...] = ()


@dataclass(frozen=True, slots=True)
class Impact:
    users_affected: int | None
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """A ranked cause; ``score`` orders them and is not part of the report's JSON."""

    cause: str
    confidence: float
    evidence: tuple[str, ...]
    investigation_steps: tuple[str, ...]
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class TriageReport:
    severity: Severity | None
    confidence: float
    classification: Classification
    impact: Impact
    hypotheses: tuple[Hypothesis, ...]
    escalation: Escalation
    status: TriageStatus
    incident_id: str | None
    rationale: tuple[str, ...]
    similar_incidents: tuple[SimilarIncident, ...] = ()

    @property
    def is_incident(self) -> bool:
        return self.classification is Classification.INCIDENT and self.severity is not None

    @property
    def top_cause(self) -> str:
        return self.hypotheses[0].cause if self.hypotheses else "unknown"

    def for_incident(self, incident_id: str | None) -> TriageReport:
        return replace(self, incident_id=incident_id)

    def as_json(self) -> dict[str, object]:
        """DESIGN §3's report: the JSON ``/v1/orchestrate`` returns and the run keeps."""
        return {
            "severity": self.severity.value if self.severity else None,
            "confidence": self.confidence,
            "classification": self.classification.value,
            "impact": {
                "users_affected": self.impact.users_affected,
                "services": list(self.impact.services),
            },
            "hypotheses": [
                {
                    "cause": h.cause,
                    "confidence": h.confidence,
                    "evidence": list(h.evidence),
                    "investigation_steps": list(h.investigation_steps),
                }
                for h in self.hypotheses
            ],
            "escalation": self.escalation.value,
            "status": self.status.value,
            "incident_id": self.incident_id,
            "rationale": list(self.rationale),
            "similar_incidents": [
                {
                    "incident_id": s.incident_id,
                    "title": s.title,
                    "cause": s.cause,
                    "resolution": s.resolution,
                    "score": s.score,
                }
                for s in self.similar_incidents
            ],
        }


class TriageAgent(Protocol):
    """What the triage service runs: the triage-responder, or a stand-in in tests."""

    name: str

    def run(self, inputs: TriageInput) -> TriageReport: ...
