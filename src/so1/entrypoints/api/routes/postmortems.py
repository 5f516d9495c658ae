"""The postmortem of an incident: the analyst's draft and its markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from so1.entrypoints.api.deps import ContainerDep, Reader
from so1.services.clearance import require_clearance
from so1.services.postmortem_flow import get_postmortem

router = APIRouter(prefix="/v1/incidents/{incident_id}", tags=["postmortems"])


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
        require_clearance(uow, actor, incident_id)
    found = get_postmortem(container.uow, incident_id)
    if format == "markdown":
        return Response(found.markdown, media_type="text/markdown; charset=utf-8")
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
    )
