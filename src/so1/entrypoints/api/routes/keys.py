"""API keys over HTTP (admin), the calling key itself, and one-time login links for the web
pages: what `so1 keys` and `so1 login-link` do against the server named by SO1_API_URL."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from so1.entrypoints.api.admin_schemas import (
    IssuedKeyOut,
    KeyIn,
    KeyOut,
    LoginLinkIn,
    LoginLinkOut,
    MyKeyOut,
    RotatedKeyOut,
    RotateKeyIn,
)
from so1.entrypoints.api.deps import Admin, ContainerDep, Reader
from so1.services.access import keys as access, web_sessions

router = APIRouter(tags=["keys"])
KeyId = Annotated[
    str, Path(min_length=1, max_length=64, description="the key's id, not its secret")
]


@router.get("/v1/keys", response_model=list[KeyOut])
def list_keys(container: ContainerDep, _: Admin) -> list[KeyOut]:
    """Every key, never a secret."""
    return [KeyOut.of(k) for k in access.list_keys(container.uow)]


@router.get("/v1/keys/me", response_model=MyKeyOut)
def my_key(container: ContainerDep, actor: Reader) -> MyKeyOut:
    """The key this request was made with: its name, its stored ``scopes``, its
    ``effective_scopes`` (bounded by its person's ``role``) and expiry."""
    stored, effective = access.effective_key(container.uow, actor.key_id or "")
    return MyKeyOut.of_effective(stored, effective)


@router.post("/v1/keys", response_model=IssuedKeyOut, status_code=201)
def create_key(body: KeyIn, container: ContainerDep, actor: Admin) -> IssuedKeyOut:
    """A new key; ``token`` is the key itself, in this answer only."""
    days = body.expires_in_days
    expires = container.clock.now() + timedelta(days=days) if days else None
    issued = access.create_key(
        container.uow,
        container.clock,
        actor,
        body.name,
        frozenset(body.scopes),
        expires,
        person=body.person,
    )
    return IssuedKeyOut(**KeyOut.of(issued.key).model_dump(), token=issued.token)


@router.post("/v1/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(key_id: KeyId, container: ContainerDep, actor: Admin) -> KeyOut:
    """The key stops working now (other servers: within SO1_AUTH_CACHE_SECONDS)."""
    access.revoke_key(container.uow, container.clock, actor, key_id)
    container.edge.key_cache.forget(key_id)
    return KeyOut.of(access.get_key(container.uow, key_id))


@router.post("/v1/keys/{key_id}/rotate", response_model=RotatedKeyOut, status_code=201)
def rotate_key(
    key_id: KeyId, container: ContainerDep, actor: Admin, body: RotateKeyIn | None = None
) -> RotatedKeyOut:
    """A replacement with the same name and scopes; the old key keeps working for
    ``grace_seconds`` (default SO1_KEY_ROTATION_GRACE_SECONDS)."""
    seconds = body.grace_seconds if body and body.grace_seconds is not None else None
    grace = timedelta(
        seconds=container.settings.key_rotation_grace_seconds if seconds is None else seconds
    )
    issued = access.rotate_key(container.uow, container.clock, actor, key_id, grace)
    container.edge.key_cache.forget(key_id)
    old = access.get_key(container.uow, key_id)
    return RotatedKeyOut(
        **KeyOut.of(issued.key).model_dump(), token=issued.token, old_key_expires_at=old.expires_at
    )


@router.post("/v1/login-links", response_model=LoginLinkOut, status_code=201, tags=["web"])
def login_link(
    container: ContainerDep, actor: Reader, body: LoginLinkIn | None = None
) -> LoginLinkOut:
    """A link that signs in to the web pages once, within 15 minutes, with the calling key
    (or, for an admin key, the newest usable key named ``key_name``)."""
    name = body.key_name if body else None
    link = web_sessions.new_login_link(container.uow, container.clock, actor, name)
    return LoginLinkOut(
        path=f"/login/{link.token}", key_name=link.key.name, expires_at=link.expires_at
    )
