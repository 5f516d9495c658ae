"""FastAPI dependencies: the container, and authentication with a required scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from so1.bootstrap import Container
from so1.domain.access import ApiKey, Scope
from so1.errors import Forbidden
from so1.services.access import keys as access
from so1.services.access.clearance import actor_for
from so1.services.incidents.recording import Actor

_bearer = HTTPBearer(auto_error=False, description="API key: `so1_<id>_<secret>`")


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header, as FastAPI's HTTPBearer
    reads them (any other scheme, or none, is no token)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials or scheme.lower() != "bearer":
        return None
    return credentials


async def authorize(
    container: Container, token: str | None, ip: str | None, scope: Scope, action: str
) -> Actor:
    """The actor behind ``token`` when its key has ``scope`` (admin implies all); 401, or 403
    with an audit record naming ``action``.

    A key verified moments ago is checked on the event loop from the cache; anything that
    needs the database runs in the thread pool."""
    key = access.verified_from_cache(container.edge.key_cache, container.clock, token)
    if key is None:
        key = await run_in_threadpool(
            access.authenticate,
            container.uow,
            container.clock,
            token,
            ip,
            container.edge.key_cache,
        )
    actor = actor_for(key, ip)
    if not key.allows(scope):
        await run_in_threadpool(
            access.audit_forbidden, container.uow, container.clock, actor, scope, action
        )
        raise Forbidden(lacks(key, scope))
    return actor


def require(scope: Scope) -> Callable[..., Awaitable[Actor]]:
    """Dependency: authenticate the bearer key and insist on ``scope`` (see ``authorize``)."""

    async def dependency(
        request: Request,
        container: ContainerDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor:
        token = credentials.credentials if credentials else None
        action = f"{request.method} {request.url.path}"
        return await authorize(container, token, client_ip(request), scope, action)

    return dependency


def lacks(key: ApiKey, scope: Scope) -> str:
    """Why ``key`` may not do what needs ``scope``: its own scopes, or its person's role."""
    if key.role is not None and scope not in key.role.scopes:
        return f"this key's person ({key.person}) has the role '{key.role}', without '{scope}'"
    return f"this key lacks the '{scope}' scope"


Reader = Annotated[Actor, Depends(require(Scope.READ))]
Writer = Annotated[Actor, Depends(require(Scope.WRITE))]
Deployer = Annotated[Actor, Depends(require(Scope.DEPLOY))]
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
Security = Annotated[Actor, Depends(require(Scope.SECURITY))]
