"""People as accounts (admin): add a person with a role, disable or enable them, set their
role, link them to their Slack user; what `so1 people` and the /people page do. Listing is
GET /v1/people (routes/oncall.py).

Disabling or changing a role clears this process's key cache, so it holds from the next
request here; other server processes follow within SO1_AUTH_CACHE_SECONDS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from so1.bootstrap import Container
from so1.entrypoints.api.deps import Admin, ContainerDep
from so1.entrypoints.api.people_schemas import NewPersonIn, PersonOut, RoleIn, SlackLinkIn
from so1.services.access import accounts, chat_identity

router = APIRouter(tags=["people"])
HandlePath = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def forget_cached_keys(container: Container) -> None:
    """A person's keys may be cached with their old role or state: drop them all."""
    container.edge.key_cache.clear()


@router.post("/v1/people", response_model=PersonOut, status_code=201)
def add_person(body: NewPersonIn, container: ContainerDep, actor: Admin) -> PersonOut:
    """A new person with a role (default viewer); their keys are `so1 keys create --person`."""
    added = accounts.add_person(container.uow, container.clock, actor, body.to_domain())
    return PersonOut.of(added)


@router.post("/v1/people/{handle}/disable", response_model=PersonOut)
def disable_person(handle: HandlePath, container: ContainerDep, actor: Admin) -> PersonOut:
    """Their keys are refused and their web sessions end, from the next request."""
    person = accounts.disable_person(container.uow, container.clock, actor, handle)
    forget_cached_keys(container)
    return PersonOut.of(person)


@router.post("/v1/people/{handle}/enable", response_model=PersonOut)
def enable_person(handle: HandlePath, container: ContainerDep, actor: Admin) -> PersonOut:
    """Their keys work again; ended web sessions stay ended."""
    person = accounts.enable_person(container.uow, container.clock, actor, handle)
    forget_cached_keys(container)
    return PersonOut.of(person)


@router.put("/v1/people/{handle}/role", response_model=PersonOut)
def set_role(handle: HandlePath, body: RoleIn, container: ContainerDep, actor: Admin) -> PersonOut:
    """The person's role: the most their keys may do (a key's scopes ∩ the role's)."""
    person = accounts.set_role(container.uow, container.clock, actor, handle, body.role)
    forget_cached_keys(container)
    return PersonOut.of(person)


@router.put("/v1/people/{handle}/slack", response_model=PersonOut)
def link_slack(
    handle: HandlePath, body: SlackLinkIn, container: ContainerDep, actor: Admin
) -> PersonOut:
    """Link the person to a Slack user: the id given, or the Slack user with the person's
    email (Slack users.lookupByEmail, scope users:read.email); their slash commands and 👀
    then act as them."""
    directory = container.adapters.chat_directory
    person = chat_identity.link_slack(
        container.uow, container.clock, actor, handle, body.slack_id, directory
    )
    return PersonOut.of(person)


@router.delete("/v1/people/{handle}/slack", response_model=PersonOut)
def unlink_slack(handle: HandlePath, container: ContainerDep, actor: Admin) -> PersonOut:
    """The Slack user acts as nobody (until linked again, by an admin or by email)."""
    person = chat_identity.unlink_slack(container.uow, container.clock, actor, handle)
    return PersonOut.of(person)
