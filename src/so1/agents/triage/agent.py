"""The triage-responder agent: an alert and its context in, the runbook's triage report out.

Pure and deterministic: the same inputs give the same report. Time comes from
``TriageInput.now``; the only I/O is reading the packaged ``symptoms.yaml`` once. The report
(``contract.TriageReport``) has DESIGN §3's fields plus ``rationale``, the reasons behind
severity and confidence.

Helpers: ``values`` and ``thresholds`` (parsing "12%", "< 1%", "500ms" and reading a value
against its threshold), ``text`` (the alert's words from every field), ``facts`` (catalog
graph), ``impact`` (the impact class), ``signals`` and ``hypotheses`` (cause ranking from the
knowledge base), ``severity`` (the table and the moves) and ``confidence``.
"""

from __future__ import annotations

from dataclasses import replace

from so1.agents.triage.confidence import confidence, non_incident_confidence
from so1.agents.triage.contract import (
    TRIAGE_AGENT,
    Hypothesis,
    Impact,
    TriageInput,
    TriageReport,
)
from so1.agents.triage.facts import Facts, gather
from so1.agents.triage.hypotheses import rank
from so1.agents.triage.knowledge import Knowledge, knowledge
from so1.agents.triage.severity import assess, estimate_impact, non_incident_reason
from so1.domain.severity import Severity
from so1.domain.triage import Classification, Escalation, SimilarIncident, TriageStatus

CONFIDENCE_FLOOR = 0.70  # below it the runbook escalates with "investigation required"


class TriageResponder:
    """The runbook's Triage Responder (Phase 1: Detection & Triage)."""

    name = TRIAGE_AGENT

    def __init__(self, kn: Knowledge | None = None) -> None:
        self._knowledge = kn

    def run(self, inputs: TriageInput) -> TriageReport:
        """Triage one alert."""
        kn = self._knowledge or knowledge()
        facts = gather(inputs, kn)
        impact = estimate_impact(facts)
        reason = non_incident_reason(facts, kn)
        if reason is not None:
            report = _non_incident(facts, impact, reason, inputs.incident_id)
            return with_similar(report, inputs.similar_incidents)
        result = assess(facts, impact, kn)
        hypotheses = rank(facts, kn)
        top = (hypotheses[0].cause, hypotheses[0].confidence) if hypotheses else None
        score, doubts = confidence(facts, result, top)
        report = TriageReport(
            severity=result.severity,
            confidence=score,
            classification=Classification.INCIDENT,
            impact=impact,
            hypotheses=tuple(hypotheses),
            escalation=escalation_for(result.severity),
            status=status_for(score),
            incident_id=inputs.incident_id,
            rationale=(*result.rationale, *readings(facts), *doubts),
        )
        return with_similar(report, inputs.similar_incidents)


def with_similar(report: TriageReport, similar: tuple[SimilarIncident, ...]) -> TriageReport:
    """Past incidents like this one (found by SO1) as evidence: "last time this cause was
    fixed by ..." on each hypothesis with the same cause."""
    return replace(
        report,
        similar_incidents=similar,
        hypotheses=tuple(_with_past_fixes(h, similar) for h in report.hypotheses),
    )


def _with_past_fixes(hypothesis: Hypothesis, similar: tuple[SimilarIncident, ...]) -> Hypothesis:
    fixes = tuple(
        f"last time ({match.incident_id}, similarity {match.score:.2f})"
        f" this cause was fixed by: {match.resolution}"
        for match in similar
        if match.cause == hypothesis.cause and match.resolution
    )
    return replace(hypothesis, evidence=hypothesis.evidence + fixes) if fixes else hypothesis


def escalation_for(severity: Severity) -> Escalation:
    """SEV0-1 immediate, SEV2-3 standard, SEV4 a ticket."""
    if severity.rank <= 1:
        return Escalation.IMMEDIATE
    return Escalation.STANDARD if severity.rank <= 3 else Escalation.TICKET


def status_for(confidence: float) -> TriageStatus:
    if confidence >= CONFIDENCE_FLOOR:
        return TriageStatus.COMPLETED
    return TriageStatus.INVESTIGATION_REQUIRED


def _non_incident(
    facts: Facts, impact: Impact, reason: str, incident_id: str | None
) -> TriageReport:
    score = non_incident_confidence(facts, reason)
    return TriageReport(
        severity=None,
        confidence=score,
        classification=Classification.NON_INCIDENT,
        impact=impact,
        hypotheses=(),
        escalation=Escalation.CLOSE,
        status=status_for(score),
        incident_id=incident_id,
        rationale=(f"non-incident: {reason}; close the alert and monitor", *readings(facts)),
    )


def readings(facts: Facts) -> tuple[str, ...]:
    """How the threshold was read, and what of the alert's text was cut."""
    threshold = (f"threshold: {facts.breach.reading}",) if facts.breach.reading else ()
    return (*threshold, *(f"text cut: {c}" for c in facts.text.cut))
