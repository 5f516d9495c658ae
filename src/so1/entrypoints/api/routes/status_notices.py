"""An incident's status-page notices and the drafts that wait for a person
(``SO1_STATUS_PAGE_APPROVAL=draft``): read them, edit a draft, publish it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from so1.domain.comms import Outbound
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.services.declaration import status_drafts

router = APIRouter(tags=["war room"])
IncidentPath = Annotated[str, Path(pattern=r"^INC-\d{8}-\d{4,}$", max_length=32)]
DraftPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str | None, Field(default=None, min_length=1, max_length=5000)]
Title = Annotated[str | None, Field(default=None, min_length=1, max_length=200)]


class DraftEdit(Strict):
    text: Text = None
    title: Title = None


class DraftPublish(Strict):
    draft_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: oldest")
    text: Text = None
    title: Title = None


class NoticeOut(BaseModel):
    id: int | None
    kind: str
    status: str = Field(description="draft (waits for a person), pending, sent or dead")
    title: str | None
    state: str | None
    text: str
    created_at: datetime
    sent_at: datetime | None
    published_by: str | None
    published_at: str | None
    edited_by: str | None


def notice_out(message: Outbound) -> NoticeOut:
    said = message.payload
    return NoticeOut(
        id=message.id,
        kind=message.kind,
        status=message.status.value,
        title=said.get("title"),
        state=said.get("state"),
        text=message.body,
        created_at=message.created_at,
        sent_at=message.sent_at,
        published_by=said.get("published_by"),
        published_at=said.get("published_at"),
        edited_by=said.get("edited_by"),
    )


@router.get("/v1/incidents/{incident_id}/status-page", response_model=list[NoticeOut])
def notices(incident_id: IncidentPath, container: ContainerDep, actor: Reader) -> list[NoticeOut]:
    """The incident's status-page notices, oldest first: drafts and what was published."""
    found = status_drafts.status_page_notices(container.uow, actor, incident_id)
    return [notice_out(m) for m in found]


@router.patch("/v1/incidents/{incident_id}/status-page/drafts/{draft_id}", response_model=NoticeOut)
def edit_draft(
    incident_id: IncidentPath,
    draft_id: DraftPath,
    body: DraftEdit,
    container: ContainerDep,
    actor: Writer,
) -> NoticeOut:
    """Change a draft's text (markdown) or title; it stays a draft."""
    edited = status_drafts.edit_draft(
        container.uow, container.clock, actor, incident_id, draft_id, body.text, body.title
    )
    return notice_out(edited)


@router.post("/v1/incidents/{incident_id}/status-page/publish", response_model=NoticeOut)
def publish(
    incident_id: IncidentPath, body: DraftPublish, container: ContainerDep, actor: Writer
) -> NoticeOut:
    """Publish a draft (the oldest unless `draft_id`), with its final text if given: it is
    delivered to the status page like any other update, and records who published it."""
    published = status_drafts.publish_draft(
        container.uow,
        container.clock,
        actor,
        incident_id,
        body.draft_id,
        body.text,
        body.title,
    )
    return notice_out(published)
