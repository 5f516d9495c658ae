"""Documented hypotheses (the runbook's "Document hypothesis"), kept on the incident's
timeline and, on request, posted to the war room."""

from __future__ import annotations

from so1.domain.investigation import Hypothesis
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.outbox import post_to_war_room
from so1.services.incidents.recording import Actor, Change, record


def document_hypothesis(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    hypothesis: Hypothesis,
    cause: str | None = None,
    post: bool = False,
) -> bool:
    """Returns whether it was also queued for the war room."""
    text = hypothesis.markdown()
    with uow_factory() as uow:
        if require_act(uow, actor, incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        data = {
            "hypothesis": hypothesis.statement,
            "confidence": hypothesis.confidence,
            "evidence": list(hypothesis.evidence),
            "steps": [{"text": s.text, "done": s.done} for s in hypothesis.steps],
            "cause": cause,
        }
        change = Change(
            "incident.hypothesis",
            "incident",
            incident_id,
            text,
            data,
            incident_id,
            EventKind.HYPOTHESIS_DOCUMENTED,
        )
        record(uow, actor, clock.now(), change)
        uow.commit()
    if post:
        post_to_war_room(uow_factory, clock, actor, incident_id, text)
    return post
