"""Who may read a security incident's record."""

from __future__ import annotations

from so1.domain.timeline import EventKind
from so1.errors import Forbidden
from so1.ports import UnitOfWork
from so1.services.incidents.recording import Actor


def require_clearance(uow: UnitOfWork, actor: Actor, incident_id: str) -> None:
    """A security incident's record is for keys with the `security` scope only (its war room
    is private; the runbook: do not disclose until assessed)."""
    if not actor.security_cleared and is_private(uow, incident_id):
        raise Forbidden("a security incident: its timeline needs a key with the 'security' scope")


def is_private(uow: UnitOfWork, incident_id: str) -> bool:
    opened = uow.timeline.for_incident(incident_id, [EventKind.WAR_ROOM_OPENED])
    return any(e.data.get("private") for e in opened)
