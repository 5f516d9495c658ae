"""Incident roles: assume, hand over, renounce; the commander role keeps the incident in step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from so1.domain.incidents import Incident
from so1.domain.participants import SINGLE_HOLDER_ROLES, Participation, Role
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.incidents.recording import Actor, Change, record


def hand_role(
    uow: UnitOfWork, actor: Actor, now: datetime, incident_id: str, handle: str, role: Role
) -> bool:
    """Give ``role`` to ``handle`` (handing a single-holder role over); False if already held."""
    holders = uow.participants.current(incident_id, role)
    if any(p.handle == handle for p in holders):
        return False
    previous = []
    if role in SINGLE_HOLDER_ROLES:
        for holder in holders:
            uow.participants.renounce(incident_id, holder.handle, role, now)
            previous.append(holder.handle)
    uow.participants.assume(Participation(incident_id, handle, role, now))
    handed = f" (from {', '.join(previous)})" if previous else ""
    change = Change(
        action="incident.role.assume",
        resource_type="incident",
        resource_id=incident_id,
        summary=f"{handle} is {role.value}{handed}",
        detail={"handle": handle, "role": role.value, "previous": previous},
        incident_id=incident_id,
        timeline_kind=EventKind.ROLE_ASSUMED,
    )
    record(uow, actor, now, change)
    return True


def assign_role(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    handle: str,
    role: Role,
) -> list[Participation]:
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, incident_id)
        incident = _require(uow, incident_id)
        if hand_role(uow, actor, now, incident_id, handle, role) and role is Role.COMMANDER:
            _set_commander(uow, incident, handle, now)
        current = uow.participants.current(incident_id)
        uow.commit()
    return current


def renounce_role(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    handle: str,
    role: Role,
) -> list[Participation]:
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, incident_id)
        incident = _require(uow, incident_id)
        if uow.participants.renounce(incident_id, handle, role, now) == 0:
            raise NotFound(f"{handle} does not hold the {role.value} role in {incident_id}")
        change = Change(
            action="incident.role.renounce",
            resource_type="incident",
            resource_id=incident_id,
            summary=f"{handle} is no longer {role.value}",
            detail={"handle": handle, "role": role.value},
            incident_id=incident_id,
            timeline_kind=EventKind.ROLE_RENOUNCED,
        )
        record(uow, actor, now, change)
        if role is Role.COMMANDER and incident.commander == handle:
            _set_commander(uow, incident, None, now)
        current = uow.participants.current(incident_id)
        uow.commit()
    return current


def participant_history(
    uow_factory: UnitOfWorkFactory, incident_id: str, actor: Actor
) -> list[Participation]:
    with uow_factory(read_only=True) as uow:
        require_read(uow, actor, incident_id)
        _require(uow, incident_id)
        return uow.participants.history(incident_id)


def _set_commander(uow: UnitOfWork, incident: Incident, handle: str | None, now: datetime) -> None:
    changed = replace(incident, commander=handle, updated_at=now, version=incident.version + 1)
    uow.incidents.update(changed, expected_version=incident.version)


def _require(uow: UnitOfWork, incident_id: str) -> Incident:
    incident = uow.incidents.get(incident_id, for_update=True)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident
