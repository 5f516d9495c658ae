"""Investigation: the incident's context in one call, and hypotheses documented in the
runbook's format (on the timeline, and in the war room on request)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from so1.bootstrap import Container
from so1.domain.investigation import Hypothesis, InvestigationStep
from so1.domain.plain import plain
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.services.access.clearance import check_act
from so1.services.declaration.outbox import post_to_war_room
from so1.services.incidents.recording import Actor
from so1.services.investigation.gather import InvestigationContext, investigation_context
from so1.services.investigation.hypotheses import document_hypothesis
from so1.services.investigation.summary import context_markdown

router = APIRouter(prefix="/v1/incidents", tags=["investigation"])


class StepIn(Strict):
    text: str = Field(min_length=1, max_length=500)
    done: bool = False


class HypothesisIn(Strict):
    hypothesis: str = Field(min_length=1, max_length=500)
    confidence: float = Field(ge=0, le=1, description="0 to 1 (0.85 is shown as 85%)")
    evidence: list[str] = Field(default_factory=list, max_length=50)
    steps: list[StepIn] = Field(default_factory=list, max_length=50)
    cause: str | None = Field(default=None, max_length=100, description="a cause id, if known")
    post_to_war_room: bool = False


class HypothesisOut(BaseModel):
    incident_id: str
    markdown: str
    posted: bool


@router.get("/{incident_id}/context")
def context(incident_id: str, container: ContainerDep, actor: Reader) -> dict[str, Any]:
    """Recent deployments and what changed, key metrics, error log patterns (new ones first),
    the runbook's symptom table applied, and the hypotheses so far."""
    found = _gather(container, actor, incident_id)
    return _context_out(found)


def _gather(container: Container, actor: Actor, incident_id: str) -> InvestigationContext:
    return investigation_context(
        container.uow,
        container.clock,
        actor,
        container.adapters.metrics,
        container.adapters.platform,
        incident_id,
    )


def _context_out(found: InvestigationContext) -> dict[str, Any]:
    metrics = [
        {
            "metric": s.metric,
            "unit": s.unit,
            "latest": s.last(),
            "points": [[at.isoformat(), v] for at, v in s.points],
        }
        for s in found.metrics
    ]
    return {
        "incident_id": found.incident.id,
        "service": found.incident.service,
        "window": {"start": found.start.isoformat(), "end": found.end.isoformat()},
        "deployment_diff": plain(asdict(found.diff)) if found.diff else None,
        "platform_deployments": [plain(asdict(d)) for d in found.platform],
        "metrics": metrics,
        "log_patterns": plain(asdict(found.logs)) if found.logs else None,
        "symptoms": [asdict(row) for row in found.symptoms],
        "hypotheses": found.hypotheses,
        "mitigations": found.mitigations,
        "unavailable": found.unavailable,
    }


class PostedOut(BaseModel):
    incident_id: str
    text: str


@router.post("/{incident_id}/context/post", response_model=PostedOut, status_code=201)
def post_context(incident_id: str, container: ContainerDep, actor: Writer) -> PostedOut:
    """Post a summary of the context to the war room (deployment, metrics, new error
    patterns, matched symptoms, the suggested mitigation)."""
    check_act(container.uow, actor, incident_id)
    found = _gather(container, actor, incident_id)
    text = context_markdown(found)
    post_to_war_room(container.uow, container.clock, actor, incident_id, text)
    return PostedOut(incident_id=incident_id, text=text)


@router.post("/{incident_id}/hypotheses", response_model=HypothesisOut, status_code=201)
def hypothesis(
    incident_id: str, body: HypothesisIn, container: ContainerDep, actor: Writer
) -> HypothesisOut:
    """The runbook's "Document hypothesis": kept on the timeline; posted to the war room too
    with ``post_to_war_room``."""
    steps = [InvestigationStep(s.text, s.done) for s in body.steps]
    given = Hypothesis(body.hypothesis, body.confidence, body.evidence, steps)
    posted = document_hypothesis(
        container.uow, container.clock, actor, incident_id, given, body.cause, body.post_to_war_room
    )
    return HypothesisOut(incident_id=incident_id, markdown=given.markdown(), posted=posted)
