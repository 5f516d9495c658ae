"""The one rule for security incidents: who may see them and act on them.

A security incident (its war room opened private: the runbook's "do not disclose until
assessed") is marked ``private`` on its row. Only a key with the ``security`` scope itself is
cleared for it; ``admin`` does not imply clearance (need to know: running SO1 is not reading a
breach's war room). For every other key such an incident does not exist:

- lists and searches leave it (and its alerts, runs, action items, audit rows) out;
- reading it, or anything of it, answers 404 exactly as for an incident that does not exist;
- acting on it (war room, acknowledge, PATCH, postmortem, mitigations) answers 403.

``may_access`` is the decision; everything else here, and every caller, goes through it.
"""

from __future__ import annotations

from so1.domain.access import ApiKey, Scope
from so1.domain.incidents import Incident
from so1.domain.oncall import Person
from so1.errors import Forbidden, NotFound
from so1.ports import UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor


def key_is_cleared(key: ApiKey) -> bool:
    """Clearance is the ``security`` scope itself, never implied by ``admin``."""
    return Scope.SECURITY in key.scopes


def actor_for(key: ApiKey, source_ip: str | None = None) -> Actor:
    """The actor a key acts as: its name, its person, its clearance."""
    return Actor(
        name=key.name,
        key_id=key.id,
        source_ip=source_ip,
        security_cleared=key_is_cleared(key),
        can_deploy=key.allows(Scope.DEPLOY),
        person=key.person,
    )


def actor_for_person(person: Person, scopes: frozenset[Scope]) -> Actor:
    """The actor a person's own web session (single sign-on, no key) acts as."""
    return Actor(
        name=person.handle,
        security_cleared=Scope.SECURITY in scopes,
        can_deploy=Scope.DEPLOY in scopes,
        person=person.handle,
    )


def sees_private(actor: Actor) -> bool:
    """Whether lists shown to ``actor`` include security incidents."""
    return actor.security_cleared


def may_access(actor: Actor, incident: Incident) -> bool:
    """The rule: a security incident is for cleared actors only; others are for everyone."""
    return not incident.private or sees_private(actor)


def hidden(incident_id: str) -> NotFound:
    """What a reader without clearance gets: the same answer as a missing incident."""
    return NotFound(f"incident {incident_id} does not exist")


def require_read(uow: UnitOfWork, actor: Actor, incident_id: str | None) -> Incident | None:
    """The incident when ``actor`` may read it (None when there is none, or no id); raises
    NotFound when it is hidden from them."""
    incident = uow.incidents.get(incident_id) if incident_id else None
    if incident is not None and not may_access(actor, incident):
        raise hidden(incident.id)
    return incident


def check_read(uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str) -> None:
    """``require_read`` in a read-only unit of work of its own."""
    with uow_factory(read_only=True) as uow:
        require_read(uow, actor, incident_id)


def check_act(uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str) -> None:
    """``require_act`` in a read-only unit of work of its own (before a use case that reads
    first and acts after)."""
    with uow_factory(read_only=True) as uow:
        require_act(uow, actor, incident_id)


def require_act(uow: UnitOfWork, actor: Actor, incident_id: str | None) -> Incident | None:
    """The incident when ``actor`` may act on it (None when there is none, or no id); raises
    Forbidden naming the scope when it is a security incident they are not cleared for."""
    incident = uow.incidents.get(incident_id) if incident_id else None
    if incident is not None and not may_access(actor, incident):
        raise Forbidden(
            f"{incident.id} is a security incident: acting on it needs a key with the "
            "'security' scope"
        )
    return incident
