"""Action items tracked to done: list, filter, change, export (CSV or JSON)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.services.postmortem import action_items as svc

router = APIRouter(prefix="/v1/action-items", tags=["postmortems"])


class ItemOut(BaseModel):
    id: int
    incident_id: str | None
    alert_id: str | None
    title: str
    owner: str | None
    due_date: date | None
    priority: str
    status: str
    created_at: datetime
    overdue: bool


class ItemPatch(Strict):
    status: Literal["open", "done", "dropped"] | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_date: date | None = None


@router.get("", response_model=list[ItemOut])
def list_items(
    container: ContainerDep,
    actor: Reader,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[Literal["open", "done", "dropped"] | None, Query()] = None,
    incident_id: Annotated[str | None, Query(max_length=40)] = None,
    overdue: bool = False,
    format: Annotated[Literal["json", "csv"], Query(description="csv: for a tracker")] = "json",
) -> Any:
    found = svc.list_items(
        container.uow, container.clock, actor, owner, status, incident_id, overdue
    )
    if format == "csv":
        headers = {"Content-Disposition": 'attachment; filename="action-items.csv"'}
        return Response(svc.as_csv(found), media_type="text/csv; charset=utf-8", headers=headers)
    today = container.clock.now().date()
    return [ItemOut(**asdict(i), overdue=i.overdue(today)) for i in found]


@router.patch("/{item_id}", response_model=ItemOut)
def change(
    item_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    body: ItemPatch,
    container: ContainerDep,
    actor: Writer,
) -> ItemOut:
    item = svc.change_item(
        container.uow, container.clock, actor, item_id, body.status, body.owner, body.due_date
    )
    return ItemOut(**asdict(item), overdue=item.overdue(container.clock.now().date()))
