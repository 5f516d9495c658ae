"""The war room and everything said for an incident (messages, status-page updates, pages,
with their delivery state), its runbook checks, and acknowledging it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import AckChannel
from so1.domain.runbook import CheckState
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.services.declaration import outbox, policy
from so1.services.incidents import acknowledgement
from so1.services.runbook import checks as runbook

router = APIRouter(tags=["war room"])
IncidentPath = Annotated[str, Path(pattern=r"^INC-\d{8}-\d{4,}$", max_length=32)]


class MessageIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class MessageOut(BaseModel):
    id: int | None
    to: Destination
    audience: str
    kind: str
    text: str
    target: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def _out(message: Outbound) -> MessageOut:
    return MessageOut(
        id=message.id,
        to=message.destination,
        audience=message.audience,
        kind=message.kind,
        text=message.body,
        target=message.target,
        status=message.status.value,
        attempts=message.attempts,
        last_error=message.last_error,
        created_at=message.created_at,
        sent_at=message.sent_at,
    )


@router.get("/v1/incidents/{incident_id}/messages", response_model=list[MessageOut])
def messages(
    incident_id: IncidentPath,
    container: ContainerDep,
    actor: Reader,
    to: Annotated[Destination | None, Query(description="war_room, status_page or pager")] = None,
) -> list[MessageOut]:
    """What was said (and paged) for the incident, oldest first, with delivery state; a
    security incident's only for keys with the `security` scope."""
    found = outbox.incident_messages(container.uow, incident_id, to, actor)
    return [_out(m) for m in found]


@router.post("/v1/incidents/{incident_id}/messages", status_code=201, response_model=MessageOut)
def post_message(
    incident_id: IncidentPath, body: MessageIn, container: ContainerDep, actor: Writer
) -> MessageOut:
    """Post to the incident's war room as the key's owner."""
    stored = outbox.post_to_war_room(container.uow, container.clock, actor, incident_id, body.text)
    return _out(stored)


class CheckOut(BaseModel):
    id: str
    title: str
    phase: str
    state: CheckState
    due_at: datetime | None
    done_at: datetime | None
    evidence: str


class EscalationOut(BaseModel):
    policy: str | None = Field(description="the escalation policy the incident follows")
    default_used: bool = Field(description="the service has no owner team or policy")
    note: str | None = Field(description='"no policy for service X: default used (...)"')


class RunbookOut(BaseModel):
    incident_id: str
    severity: str
    status: str
    at: datetime
    late: list[str] = Field(description="ids of the checks that are late now")
    checks: list[CheckOut]
    escalation: EscalationOut


@router.get("/v1/incidents/{incident_id}/runbook", response_model=RunbookOut, tags=["runbook"])
def incident_runbook(
    incident_id: IncidentPath, container: ContainerDep, actor: Reader
) -> RunbookOut:
    """Every runbook check for the incident: done / done_late / pending / late / waiting /
    not_applicable, with the deadline and the evidence from the record."""
    now = container.clock.now()
    incident, checks = runbook.incident_runbook(container.uow, actor, incident_id, now)
    default = container.settings.default_escalation_policy
    chosen = policy.incident_escalation(container.uow, actor, incident.id, default)
    return RunbookOut(
        incident_id=incident.id,
        severity=incident.severity.value,
        status=incident.status.value,
        at=now,
        late=[c.id for c in checks if c.state is CheckState.LATE],
        checks=[CheckOut(**asdict(c)) for c in checks],  # escalate/occurrence stay internal
        escalation=EscalationOut(
            policy=chosen.name, default_used=chosen.default_used, note=chosen.note
        ),
    )


class AcknowledgeIn(Strict):
    via: Literal["api", "cli", "integration"] = Field(
        default="api", description="through what: api (default), cli, or an integration"
    )


class AcknowledgedOut(BaseModel):
    incident_id: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_via: str | None


@router.post("/v1/incidents/{incident_id}/acknowledge", tags=["runbook"])
def acknowledge(
    incident_id: IncidentPath,
    container: ContainerDep,
    actor: Writer,
    body: AcknowledgeIn | None = None,
) -> AcknowledgedOut:
    """Acknowledge the incident as the key's person (stops the 2-minute clock, shows the
    commander present). The first acknowledgement is kept: a second answers with it."""
    via = AckChannel((body or AcknowledgeIn()).via)
    incident = acknowledgement.acknowledge_incident(
        container.uow, container.clock, actor, incident_id, via
    )
    return AcknowledgedOut(
        incident_id=incident.id,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        acknowledged_via=incident.acknowledged_via,
    )
