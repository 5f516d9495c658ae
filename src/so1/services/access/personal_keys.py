"""Personal API tokens: a signed-in person makes keys for themselves (the /me/tokens page).

The key names its person and carries their role's scopes (a viewer's when the role is unset),
so it can do no more than the person may, and it stays bounded by their role afterwards
(``accounts.as_its_person_allows``): demoting or disabling the person holds for the key.
A person may list and revoke their own keys, never anyone else's."""

from __future__ import annotations

from datetime import datetime

from so1.domain.access import ApiKey, IssuedKey, Role
from so1.domain.oncall import Person
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.access import keys
from so1.services.incidents.recording import Actor

NAME_LIMIT = 100


def create_personal_key(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    person: Person,
    name: str,
    expires_at: datetime | None,
) -> IssuedKey:
    name = name.strip()
    if not name or len(name) > NAME_LIMIT:
        raise ValidationFailed(f"a token needs a name (up to {NAME_LIMIT})", field="name")
    scopes = (person.role or Role.VIEWER).scopes
    return keys.create_key(
        uow_factory, clock, actor, name, scopes, expires_at, person=person.handle
    )


def personal_keys(uow_factory: UnitOfWorkFactory, person: Person) -> list[ApiKey]:
    """The person's keys still in force, newest first."""
    mine = [k for k in keys.list_keys(uow_factory) if k.person == person.handle]
    return sorted((k for k in mine if k.revoked_at is None), key=lambda k: k.created_at)[::-1]


def revoke_personal_key(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, person: Person, key_id: str
) -> None:
    """Revoke one of the person's own keys (someone else's is as if it did not exist)."""
    if not any(k.id == key_id for k in personal_keys(uow_factory, person)):
        raise NotFound(f"you have no key {key_id}")
    keys.revoke_key(uow_factory, clock, actor, key_id)
