"""People as accounts: their role bounds their keys, disabling one stops their keys and ends
their web sessions, and the administration of both (add, disable, enable, set a role).

A key that names a person acts with ``bounded(key, role)``: its own scopes intersected with
the person's role (a key never gains a scope from a role). A key whose person has no role
set keeps its own scopes (a key can only name a person of the directory); a service key (no person)
is unchanged. A disabled person's keys are refused as if revoked. The last enabled admin
cannot be demoted or disabled (someone must be left to administer)."""

from __future__ import annotations

import re
from dataclasses import replace

from so1.domain.access import ApiKey, Role, bounded
from so1.domain.oncall import Person
from so1.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record

HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # as the API's handles


def as_its_person_allows(uow: UnitOfWork, key: ApiKey) -> ApiKey:
    """The key as its person may use it; raises Unauthorized when the person is disabled."""
    person = uow.oncall.person(key.person) if key.person else None
    if person is None:
        return key
    if person.disabled:
        raise Unauthorized(f"the person this key belongs to ({person.handle}) is disabled")
    return bounded(key, person.role) if person.role else key


def add_person(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, person: Person
) -> Person:
    """A new person with a role (a handle already taken is a conflict)."""
    now = clock.now()
    with uow_factory() as uow:
        if uow.oncall.person(person.handle) is not None:
            raise Conflict(f"person {person.handle} already exists (so1 people role to change it)")
        if person.team is not None and uow.oncall.team(person.team) is None:
            raise NotFound(f"team {person.team} does not exist")
        uow.oncall.upsert_person(person, now)
        uow.oncall.set_account(person.handle, person.role, None)
        detail = {"role": person.role.value if person.role else None, "email": person.email}
        record(uow, actor, now, Change("person.add", "person", person.handle, "added", detail))
        added = _get(uow, person.handle)
        uow.commit()
    return added


def disable_person(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, handle: str
) -> Person:
    """Their keys are refused from the next request and their web sessions end now."""
    now = clock.now()
    with uow_factory() as uow:
        person = _get(uow, handle)
        if person.disabled:
            raise Conflict(f"person {handle} is already disabled")
        if actor.person == handle:
            raise Conflict("you cannot disable yourself; ask another admin")
        _keep_an_admin(uow, person, "disable")
        uow.oncall.set_account(handle, person.role, now)
        key_ids = [k.id for k in uow.keys.all() if k.person == handle]
        ended = uow.web.revoke_sessions_of(key_ids, now)
        ended += uow.web.revoke_person_sessions(handle, now)
        detail = {"keys_stopped": len(key_ids), "sessions_ended": ended}
        record(uow, actor, now, Change("person.disable", "person", handle, "disabled", detail))
        uow.commit()
    return replace(person, disabled_at=now)


def enable_person(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, handle: str
) -> Person:
    """Their keys work again (sessions ended by disabling stay ended: sign in again)."""
    now = clock.now()
    with uow_factory() as uow:
        person = _get(uow, handle)
        if not person.disabled:
            raise Conflict(f"person {handle} is not disabled")
        uow.oncall.set_account(handle, person.role, None)
        record(uow, actor, now, Change("person.enable", "person", handle, "enabled"))
        uow.commit()
    return replace(person, disabled_at=None)


def set_role(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, handle: str, role: Role
) -> Person:
    """The person's role, which bounds their keys from the next request."""
    now = clock.now()
    with uow_factory() as uow:
        person = _get(uow, handle)
        if role is not Role.ADMIN:
            _keep_an_admin(uow, person, f"make {role.value}")
        uow.oncall.set_account(handle, role, person.disabled_at)
        detail = {"from": person.role.value if person.role else None, "to": role.value}
        summary = f"role set to {role.value}"
        record(uow, actor, now, Change("person.role", "person", handle, summary, detail))
        uow.commit()
    return replace(person, role=role)


def _keep_an_admin(uow: UnitOfWork, person: Person, change: str) -> None:
    """Refuse (409) a change that would leave no enabled admin, when ``person`` is the last."""
    if is_last_admin(uow, person):
        raise Conflict(
            f"{person.handle} is the last enabled admin; make another person admin before you "
            f"{change} {person.handle}"
        )


def is_last_admin(uow: UnitOfWork, person: Person) -> bool:
    """``person`` is the only enabled admin: they must stay one (and stay enabled)."""
    if person.role is not Role.ADMIN or person.disabled:
        return False
    admins = [p for p in uow.oncall.people() if p.role is Role.ADMIN and not p.disabled]
    return len(admins) <= 1


def require_person(uow: UnitOfWork, handle: str) -> Person:
    """The person a new key names; a handle that is nobody in the directory is refused."""
    person = uow.oncall.person(handle)
    if person is None:
        raise ValidationFailed(
            f"person '{handle}' is not in the directory; add them first "
            f"(so1 people add {handle} --role ROLE, or POST /v1/people)",
            field="person",
        )
    return person


def _get(uow: UnitOfWork, handle: str) -> Person:
    person = uow.oncall.person(handle)
    if person is None:
        raise NotFound(f"person {handle} does not exist")
    return person
