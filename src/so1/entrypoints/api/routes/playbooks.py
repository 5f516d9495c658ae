"""The runbook's common scenarios on an incident: checklists ticked by people, and the
complete-outage quick start."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.errors import So1Error
from so1.services.investigation import playbooks as svc
from so1.services.mitigation.runs import DeployerDeps

router = APIRouter(prefix="/v1/incidents/{incident_id}", tags=["playbooks"])
Name = Annotated[str, Path(pattern=r"^[a-z_]{1,40}$", description="outage, database or security")]


class ItemOut(BaseModel):
    number: int
    text: str
    so1: str | None
    done_by: str | None
    done_at: datetime | None
    note: str | None


class ChecklistOut(BaseModel):
    playbook: str
    title: str
    symptoms: str
    items: list[ItemOut]


class TickIn(Strict):
    note: str | None = Field(default=None, max_length=1_000)


class OutageOut(BaseModel):
    done: list[str]
    rollback_run_id: str | None
    rollback_status: str | None
    checklist: ChecklistOut


def _checklist(container: ContainerDep, actor: Reader, incident_id: str, name: str) -> ChecklistOut:
    book, items = svc.checklist(container.uow, actor, incident_id, name)
    return ChecklistOut(
        playbook=name,
        title=book["title"],
        symptoms=book["symptoms"],
        items=[ItemOut(**vars(i)) for i in items],
    )


@router.get("/checklists/{name}", response_model=ChecklistOut)
def checklist(incident_id: str, name: Name, container: ContainerDep, actor: Reader) -> ChecklistOut:
    return _checklist(container, actor, incident_id, name)


@router.post("/checklists/{name}/{number}", response_model=ChecklistOut)
def tick(
    incident_id: str,
    name: Name,
    number: Annotated[int, Path(ge=1, le=100)],
    container: ContainerDep,
    actor: Writer,
    body: TickIn | None = None,
) -> ChecklistOut:
    """Tick item ``number`` (from 1): who and when go on the timeline."""
    svc.tick(
        container.uow,
        container.clock,
        actor,
        incident_id,
        name,
        number,
        body.note if body else None,
    )
    return _checklist(container, actor, incident_id, name)


@router.post("/playbooks/outage", response_model=OutageOut)
def outage(incident_id: str, container: ContainerDep, actor: Writer) -> OutageOut:
    """Complete outage: SEV0, and a rollback requested (awaiting approval) when the service
    was deployed in the last 4 hours."""
    deployer: DeployerDeps | None
    try:
        deployer = container.deployer
    except So1Error:
        deployer = None
    done, run = svc.outage_quick_start(container.uow, container.clock, actor, incident_id, deployer)
    return OutageOut(
        done=done,
        rollback_run_id=run.id if run else None,
        rollback_status=run.status.value if run else None,
        checklist=_checklist(container, actor, incident_id, "outage"),
    )
