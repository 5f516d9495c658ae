"""The war room and everything said for an incident: messages, status-page updates, pages,
with their delivery state (the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from so1.domain.comms import Destination, Outbound
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.services import outbox

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
    _: Reader,
    to: Annotated[Destination | None, Query(description="war_room, status_page or pager")] = None,
) -> list[MessageOut]:
    """What was said (and paged) for the incident, oldest first, with delivery state."""
    return [_out(m) for m in outbox.incident_messages(container.uow, incident_id, to)]


@router.post("/v1/incidents/{incident_id}/messages", status_code=201, response_model=MessageOut)
def post_message(
    incident_id: IncidentPath, body: MessageIn, container: ContainerDep, actor: Writer
) -> MessageOut:
    """Post to the incident's war room as the key's owner."""
    stored = outbox.post_to_war_room(container.uow, container.clock, actor, incident_id, body.text)
    container.wake_worker()
    return _out(stored)
