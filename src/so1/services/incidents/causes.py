"""What an incident's cause was, from the record: the postmortem's root cause, else triage's
leading hypothesis, else unknown."""

from __future__ import annotations

from so1.agents.postmortem.contract import KeptDraft
from so1.domain.timeline import EventKind
from so1.ports import UnitOfWork


def incident_cause(uow: UnitOfWork, incident_id: str) -> str:
    postmortem = uow.postmortems.get(incident_id)
    cause = KeptDraft.from_json(postmortem.draft).cause if postmortem else None
    if cause:
        return cause
    reports = uow.timeline.for_incident(incident_id, [EventKind.TRIAGE_REPORT])
    hypotheses = (reports[-1].data.get("hypotheses") or []) if reports else []
    return str(hypotheses[0].get("cause") or "unknown") if hypotheses else "unknown"
