"""The triage-responder agent: an alert and its context in, the runbook's triage report out.

Pure and deterministic: the same inputs give the same report. Time comes from
``context.now``; the only I/O is reading the packaged ``symptoms.yaml`` once. The report has
DESIGN §3's keys (severity, confidence, classification, impact, hypotheses, escalation,
status, incident_id) plus ``rationale``, the reasons behind severity and confidence.

Helpers: ``triage_inputs`` (validation), ``triage_values`` (parsing "12%", "< 1%", "500ms"),
``triage_facts`` (catalog graph, impact class), ``triage_signals`` and ``triage_hypotheses``
(cause ranking from the knowledge base), ``triage_severity`` (severity, impact, confidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from so1.agents.triage.facts import Facts, gather
from so1.agents.triage.hypotheses import Hypothesis, rank
from so1.agents.triage.inputs import parse_inputs
from so1.agents.triage.knowledge import Knowledge, knowledge
from so1.agents.triage.severity import (
    Impact,
    assess,
    confidence,
    estimate_impact,
    non_incident_confidence,
    non_incident_reason,
)
from so1.domain.severity import Severity

CONFIDENCE_FLOOR = 0.70  # below it the runbook escalates with "investigation required"


class TriageResponder:
    """The runbook's Triage Responder (Phase 1: Detection & Triage)."""

    name = "triage-responder"

    def __init__(self, kn: Knowledge | None = None) -> None:
        self._knowledge = kn

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Triage one alert; raises ValueError naming the field when the inputs are bad."""
        inp = parse_inputs(inputs)
        kn = self._knowledge or knowledge()
        facts = gather(inp, kn)
        impact = estimate_impact(facts)
        reason = non_incident_reason(facts, kn)
        similar = (inputs.get("context") or {}).get("similar_incidents")
        if reason is not None:
            return with_similar(_non_incident(facts, impact, reason, inp.incident_id), similar)
        result = assess(facts, impact, kn)
        hypotheses = rank(facts, kn)
        top = (hypotheses[0].cause, hypotheses[0].confidence) if hypotheses else None
        score, doubts = confidence(facts, result, top)
        report = _report(
            severity=result.severity,
            confidence=score,
            impact=impact,
            hypotheses=hypotheses,
            incident_id=inp.incident_id,
            rationale=[*result.rationale, *doubts],
        )
        return with_similar(report, similar)


def with_similar(report: dict[str, Any], similar: Any) -> dict[str, Any]:
    """Past incidents like this one (found by SO1) as evidence: "last time this cause was
    fixed by ..." on each hypothesis with the same cause."""
    past = [s for s in similar or [] if isinstance(s, Mapping) and s.get("incident_id")]
    report["similar_incidents"] = past
    for hypothesis in report["hypotheses"]:
        for match in past:
            if match.get("cause") == hypothesis["cause"] and match.get("resolution"):
                hypothesis["evidence"].append(
                    f"last time ({match['incident_id']}, similarity {float(match['score']):.2f})"
                    f" this cause was fixed by: {match['resolution']}"
                )
    return report


def escalation_for(severity: Severity) -> str:
    """SEV0-1 immediate, SEV2-3 standard, SEV4 a ticket."""
    if severity.rank <= 1:
        return "immediate"
    return "standard" if severity.rank <= 3 else "ticket"


def _report(
    *,
    severity: Severity,
    confidence: float,
    impact: Impact,
    hypotheses: list[Hypothesis],
    incident_id: str | None,
    rationale: list[str],
) -> dict[str, Any]:
    return {
        "severity": severity.value,
        "confidence": confidence,
        "classification": "incident",
        "impact": _impact(impact),
        "hypotheses": [h.as_dict() for h in hypotheses],
        "escalation": escalation_for(severity),
        "status": "completed" if confidence >= CONFIDENCE_FLOOR else "investigation_required",
        "incident_id": incident_id,
        "rationale": rationale,
    }


def _non_incident(
    facts: Facts, impact: Impact, reason: str, incident_id: str | None
) -> dict[str, Any]:
    score = non_incident_confidence(facts, reason)
    return {
        "severity": None,
        "confidence": score,
        "classification": "non_incident",
        "impact": _impact(impact),
        "hypotheses": [],
        "escalation": "close",
        "status": "completed" if score >= CONFIDENCE_FLOOR else "investigation_required",
        "incident_id": incident_id,
        "rationale": [f"non-incident: {reason}; close the alert and monitor"],
    }


def _impact(impact: Impact) -> dict[str, Any]:
    return {"users_affected": impact.users_affected, "services": list(impact.services)}
