"""Incident roles: who is commander, backup, scribe, comms lead or responder, and since when;
and paging someone in by hand."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.routes.incidents import checked_id
from so1.entrypoints.api.schemas import PageIn, PageOut, ParticipantOut, RoleChange
from so1.services.declaration.paging import PageRequest, page_responder
from so1.services.incidents import participants as svc

router = APIRouter(prefix="/v1/incidents/{incident_id}/participants", tags=["incidents"])


@router.get("", response_model=list[ParticipantOut])
def history(incident_id: str, container: ContainerDep, actor: Reader) -> list[ParticipantOut]:
    """Every role holding, current and past, in the order they were assumed."""
    found = svc.participant_history(container.uow, checked_id(incident_id), actor)
    return [ParticipantOut(**asdict(p)) for p in found]


@router.post("", status_code=201, response_model=list[ParticipantOut])
def assume(
    incident_id: str, body: RoleChange, container: ContainerDep, actor: Writer
) -> list[ParticipantOut]:
    """Give a role; commander, backup, scribe and comms lead are handed over from the holder."""
    current = svc.assign_role(
        container.uow, container.clock, actor, checked_id(incident_id), body.handle, body.role
    )
    return [ParticipantOut(**asdict(p)) for p in current]


@router.post("/renounce", response_model=list[ParticipantOut])
def renounce(
    incident_id: str, body: RoleChange, container: ContainerDep, actor: Writer
) -> list[ParticipantOut]:
    current = svc.renounce_role(
        container.uow, container.clock, actor, checked_id(incident_id), body.handle, body.role
    )
    return [ParticipantOut(**asdict(p)) for p in current]


@router.post("/page", status_code=201, response_model=PageOut)
def page(incident_id: str, body: PageIn, container: ContainerDep, actor: Writer) -> PageOut:
    """Page a person or a team's on-call now (through the outbox); they become a responder."""
    ask = PageRequest(body.reason, body.handle, body.team)
    sent = page_responder(container.uow, container.clock, actor, checked_id(incident_id), ask)
    return PageOut(**asdict(sent))
