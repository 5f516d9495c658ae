"""Chat users as people: a Slack user acts as the person of the directory linked to them.

The link is the person's ``slack_id``: set by an admin (``so1 people link-slack``, PUT
/v1/people/{handle}/slack, or the on-call import), or learned on first use: the chat says the
user's email (Slack ``users.info``) and the one person with that email is linked, durably
(audited as ``person.slack_link``). A user linked to nobody, or to a disabled person, acts
on nothing: they are told how to get linked, and the refusal is audited (``chat.refused``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from so1.domain.oncall import Person
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import ChatDirectory, Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record


def chat_actor(user_id: str) -> Actor:
    """Who the audit names for what a chat user did before SO1 knew them."""
    return Actor(name=f"slack:{user_id}", security_cleared=False, can_deploy=False)


def person_for_slack_user(
    uow_factory: UnitOfWorkFactory, clock: Clock, directory: ChatDirectory | None, user_id: str
) -> Person | None:
    """The person linked to this Slack user, linking them by email on first use; None when
    nobody is (disabled people come back: the caller refuses them)."""
    if not user_id:
        return None
    with uow_factory(read_only=True) as uow:
        linked = _by_slack_id(uow, user_id)
    if linked is not None or directory is None:
        return linked
    email = directory.email_of(user_id)  # outside any transaction: Slack may be slow
    if email is None:
        return None
    with uow_factory() as uow:
        person = _unlinked_with_email(uow, email)
        if person is None or _by_slack_id(uow, user_id) is not None:
            return None
        uow.oncall.set_slack_id(person.handle, user_id)
        detail = {"slack_id": user_id, "by": "email"}
        change = Change("person.slack_link", "person", person.handle, "linked to Slack", detail)
        record(uow, chat_actor(user_id), clock.now(), change)
        uow.commit()
    return replace(person, slack_id=user_id)


def link_slack(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    handle: str,
    slack_id: str | None,
    directory: ChatDirectory | None,
) -> Person:
    """An admin links a person to a Slack user: the id given, or (None) the Slack user
    with the person's email (``users.lookupByEmail``)."""
    with uow_factory(read_only=True) as uow:
        person = _get(uow, handle)
    found_by = "admin"
    if slack_id is None:
        slack_id, found_by = _look_up(person, directory), "email"
    with uow_factory() as uow:
        holder = _by_slack_id(uow, slack_id)
        if holder is not None and holder.handle != handle:
            raise Conflict(f"Slack user {slack_id} is already linked to {holder.handle}")
        uow.oncall.set_slack_id(handle, slack_id)
        detail = {"slack_id": slack_id, "by": found_by}
        record(
            uow, actor, clock.now(), Change("person.slack_link", "person", handle, "linked", detail)
        )
        uow.commit()
    return replace(person, slack_id=slack_id)


def unlink_slack(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, handle: str) -> Person:
    with uow_factory() as uow:
        person = _get(uow, handle)
        uow.oncall.set_slack_id(handle, None)
        detail = {"slack_id": person.slack_id}
        change = Change("person.slack_unlink", "person", handle, "unlinked from Slack", detail)
        record(uow, actor, clock.now(), change)
        uow.commit()
    return replace(person, slack_id=None)


def refuse_chat_user(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    user_id: str,
    person: Person | None,
    attempted: dict[str, Any],
) -> str:
    """Audit the refusal (``chat.refused``) and say why, and how to get linked."""
    reason = "disabled" if person is not None else "not linked"
    with uow_factory() as uow:
        detail = {"reason": reason, "person": person.handle if person else None, **attempted}
        change = Change("chat.refused", "slack_user", user_id or None, f"refused: {reason}", detail)
        record(uow, chat_actor(user_id), clock.now(), change)
        uow.commit()
    if person is not None:
        return f"Your SO1 account (@{person.handle}) is disabled: ask an SO1 admin."
    return (
        f"SO1 does not know who you are (Slack user {user_id}), so it did nothing. Ask an SO1"
        f" admin to link you to your person: `so1 people link-slack YOUR-HANDLE {user_id}`,"
        " or make the email of your Slack profile the one SO1 has for you."
    )


def _look_up(person: Person, directory: ChatDirectory | None) -> str:
    if directory is None:
        raise ValidationFailed("Slack is not configured here (SO1_CHAT=slack): give the Slack id")
    if not person.email:
        raise ValidationFailed(f"{person.handle} has no email to look up: give the Slack id")
    slack_id = directory.user_by_email(person.email)
    if slack_id is None:
        raise NotFound(f"Slack has no user with the email {person.email}: give the Slack id")
    return slack_id


def _by_slack_id(uow: UnitOfWork, slack_id: str) -> Person | None:
    return next((p for p in uow.oncall.people() if p.slack_id == slack_id), None)


def _unlinked_with_email(uow: UnitOfWork, email: str) -> Person | None:
    """The one person with this email (case aside) not yet linked; None when none or several."""
    matches = [p for p in uow.oncall.people() if p.email and p.email.casefold() == email.casefold()]
    if len(matches) != 1 or matches[0].slack_id is not None:
        return None
    return matches[0]


def _get(uow: UnitOfWork, handle: str) -> Person:
    person = uow.oncall.person(handle)
    if person is None:
        raise NotFound(f"person {handle} does not exist")
    return person
