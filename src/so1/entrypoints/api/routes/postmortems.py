"""The postmortem of an incident: the analyst's draft and its markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from so1.adapters.publishing import ical
from so1.agents.commander.comms import title_case
from so1.domain.postmortem import Postmortem
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.errors import Conflict
from so1.services.access.clearance import require_read
from so1.services.postmortem import meeting as review_meeting, review
from so1.services.postmortem.drafting import get_postmortem
from so1.services.postmortem.review import REVIEW_CHECKS

router = APIRouter(prefix="/v1/incidents/{incident_id}", tags=["postmortems"])
Check = Annotated[str, Path(pattern=r"^[a-z_]{1,40}$", description=", ".join(REVIEW_CHECKS))]


class EditIn(Strict):
    markdown: str = Field(min_length=1, max_length=200_000)
    note: str | None = Field(default=None, max_length=1_000)


class LearningIn(Strict):
    summary: str = Field(min_length=1, max_length=1_000)
    reference: str = Field(min_length=1, max_length=500, description="commit, PR or file")


class CommentIn(Strict):
    text: str = Field(min_length=1, max_length=5_000)


class PostmortemOut(BaseModel):
    incident_id: str
    status: str
    method: str
    version: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    draft: dict[str, Any]
    markdown: str
    review: dict[str, Any]


@router.get("/postmortem", response_model=PostmortemOut)
def postmortem(
    incident_id: str,
    container: ContainerDep,
    actor: Reader,
    format: Annotated[
        Literal["json", "markdown"], Query(description="markdown: text only")
    ] = "json",
) -> Any:
    """The draft (structured) and its markdown; ``format=markdown`` returns the document."""
    with container.uow(read_only=True) as uow:
        require_read(uow, actor, incident_id)
    found = get_postmortem(container.uow, incident_id)
    if format == "markdown":
        return Response(found.markdown, media_type="text/markdown; charset=utf-8")
    return _out(found)


def _out(found: Postmortem) -> PostmortemOut:
    return PostmortemOut(
        incident_id=found.incident_id,
        status=found.status.value,
        method=found.method,
        version=found.version,
        created_at=found.created_at,
        updated_at=found.updated_at,
        published_at=found.published_at,
        draft=found.draft,
        markdown=found.markdown,
        review=found.meta,
    )


@router.post("/postmortem/edits", response_model=PostmortemOut)
def edit(incident_id: str, body: EditIn, container: ContainerDep, actor: Writer) -> PostmortemOut:
    """Replace the document; the previous revision stays in ``review.revisions``."""
    return _out(
        review.edit(container.uow, container.clock, actor, incident_id, body.markdown, body.note)
    )


@router.post("/postmortem/comments", response_model=PostmortemOut)
def comment(
    incident_id: str, body: CommentIn, container: ContainerDep, actor: Writer
) -> PostmortemOut:
    return _out(review.comment(container.uow, container.clock, actor, incident_id, body.text))


@router.post("/postmortem/submit", response_model=PostmortemOut)
def submit(incident_id: str, container: ContainerDep, actor: Writer) -> PostmortemOut:
    """Draft → in review."""
    return _out(review.submit(container.uow, container.clock, actor, incident_id))


@router.post("/postmortem/checks/{check}", response_model=PostmortemOut)
def tick(incident_id: str, check: Check, container: ContainerDep, actor: Writer) -> PostmortemOut:
    """Tick one of the runbook's review checks (who and when are kept)."""
    return _out(review.tick(container.uow, container.clock, actor, incident_id, check))


@router.post("/postmortem/publish", response_model=PostmortemOut)
def publish(incident_id: str, container: ContainerDep, actor: Writer) -> PostmortemOut:
    """In review, every check ticked by SO1_POSTMORTEM_REVIEWERS people other than the last
    revision's author and the publisher (409 naming who ticked otherwise) → published without
    the draft's wording: the markdown file is written (and committed when
    SO1_POSTMORTEM_GIT_COMMIT), the action items are opened, and the war room is archived
    (SO1_WAR_ROOM_ARCHIVE)."""
    write = review.file_writer(container.adapters.postmortems)
    settings = container.settings
    archive = settings.war_room_archive == "on_publish"
    published = review.publish(
        container.uow,
        container.clock,
        actor,
        incident_id,
        write,
        archive,
        settings.postmortem_reviewers,
    )
    return _out(published)


@router.post("/postmortem/learnings", status_code=204)
def learning(incident_id: str, body: LearningIn, container: ContainerDep, actor: Writer) -> None:
    """Link a runbook or knowledge change that incorporates the postmortem's learnings (the
    runbook's "Learnings incorporated into runbooks" check)."""
    review.link_learning(
        container.uow, container.clock, actor, incident_id, body.summary, body.reference
    )


@router.get("/postmortem/meeting.ics")
def meeting(incident_id: str, container: ContainerDep, actor: Reader) -> Response:
    """The review meeting (60 minutes, a working day at least 24 hours after resolution,
    within SO1_POSTMORTEM_MEETING_HOURS in the owning team's time zone) as an iCalendar
    file."""
    now, hours = container.clock.now(), container.settings.meeting_hours
    with container.uow(read_only=True) as uow:
        found = review_meeting.meeting_details(uow, actor, incident_id)
        incident = found["incident"]
        start = review_meeting.meeting_start(uow, incident, now, hours)
    if start is None:
        raise Conflict(f"{incident_id} is not resolved yet: the review follows resolution")
    title = f"Postmortem: {incident.id} - {title_case(incident.title)}"
    about = (
        f"Blameless review of {incident.id}. The draft: "
        f"GET /v1/incidents/{incident.id}/postmortem?format=markdown"
    )
    body = ical.meeting(
        f"postmortem-{incident.id}@so1",
        title,
        start.astimezone(UTC),
        review_meeting.MEETING_MINUTES,
        found["people"],
        about,
        now,
    )
    name = f"{incident.id}-postmortem.ics"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
