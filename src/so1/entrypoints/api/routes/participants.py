"""Incident roles: who is commander, backup, scribe, comms lead or responder, and since when."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.routes.incidents import checked_id
from so1.entrypoints.api.schemas import ParticipantOut, RoleChange
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
