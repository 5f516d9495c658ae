"""API key use cases: issue, list, revoke, rotate, authenticate; and the audit log."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from so1.domain.access import ApiKey, IssuedKey, Scope, new_key, secret_matches, split_token
from so1.domain.records import AuditRecord, Outcome
from so1.errors import Conflict, NotFound, Unauthorized
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access import accounts
from so1.services.incidents.recording import Actor, Change, record
from so1.services.verified_cache import VerifiedCache

# last_used_at is refreshed at most this often, so reads do not turn into writes.
_TOUCH_INTERVAL = timedelta(seconds=60)
_GENERIC_401 = "missing or invalid API key"


def create_key(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    name: str,
    scopes: frozenset[Scope],
    expires_at: datetime | None = None,
    person: str | None = None,
) -> IssuedKey:
    """``person``: who holds the key, a handle of the directory (anything else is refused);
    the two-person rule compares persons (key names when a key names none)."""
    now = clock.now()
    person = person.strip() if person and person.strip() else None
    issued = new_key(name, scopes, now, expires_at=expires_at, person=person)
    with uow_factory() as uow:
        if person is not None:
            accounts.require_person(uow, person)
        uow.keys.add(issued.key)
        detail = {"name": name, "scopes": sorted(s.value for s in scopes), "person": person}
        record(uow, actor, now, Change("key.create", "api_key", issued.key.id, "created", detail))
        uow.commit()
    return issued


def ensure_admin_key(uow_factory: UnitOfWorkFactory, clock: Clock) -> IssuedKey | None:
    """First start: make an admin key when no usable one exists; None when one does.

    Check and insert share one transaction under a bootstrap lock, so servers starting
    together on an empty database print one key between them."""
    now = clock.now()
    with uow_factory() as uow:
        uow.keys.lock_for_bootstrap()
        if uow.keys.count_usable_admins(now) > 0:
            return None
        issued = new_key("bootstrap-admin", frozenset({Scope.ADMIN}), now)
        uow.keys.add(issued.key)
        detail = {"name": "bootstrap-admin", "scopes": ["admin"]}
        change = Change("key.create", "api_key", issued.key.id, "created on first start", detail)
        record(uow, Actor("bootstrap"), now, change)
        uow.commit()
    return issued


def list_keys(uow_factory: UnitOfWorkFactory) -> list[ApiKey]:
    with uow_factory(read_only=True) as uow:
        return uow.keys.all()


def get_key(uow_factory: UnitOfWorkFactory, key_id: str) -> ApiKey:
    with uow_factory(read_only=True) as uow:
        key = uow.keys.get(key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist")
    return key


def effective_key(uow_factory: UnitOfWorkFactory, key_id: str) -> tuple[ApiKey, ApiKey]:
    """The stored key and the key as its person's role lets it act (the same for a service
    key or a person without a role)."""
    with uow_factory(read_only=True) as uow:
        key = uow.keys.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} does not exist")
        return key, accounts.as_its_person_allows(uow, key)


def revoke_key(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, key_id: str) -> None:
    now = clock.now()
    with uow_factory() as uow:
        key = uow.keys.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} does not exist")
        if key.revoked_at is not None:
            raise Conflict(f"API key {key_id} is already revoked")
        uow.keys.revoke(key_id, now)
        record(uow, actor, now, Change("key.revoke", "api_key", key_id, "revoked"))
        uow.commit()


def rotate_key(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, key_id: str, grace: timedelta
) -> IssuedKey:
    """New key with the same name and scopes; the old one works for ``grace`` more."""
    now = clock.now()
    with uow_factory() as uow:
        old = uow.keys.get(key_id)
        if old is None or not old.is_usable(now):
            raise NotFound(f"API key {key_id} does not exist or is no longer usable")
        issued = rotate_in(uow, actor, now, old, grace)
        uow.commit()
    return issued


def rotate_in(
    uow: UnitOfWork, actor: Actor, now: datetime, old: ApiKey, grace: timedelta
) -> IssuedKey:
    """Rotate ``old`` inside the caller's transaction."""
    issued = new_key(
        old.name, old.scopes, now, old.expires_at, rotated_from=old.id, person=old.person
    )
    uow.keys.add(issued.key)
    retire_at = now + grace
    if old.expires_at is None or retire_at < old.expires_at:
        uow.keys.expire(old.id, retire_at)
    detail = {"new_key_id": issued.key.id, "old_key_expires_at": retire_at.isoformat()}
    record(uow, actor, now, Change("key.rotate", "api_key", old.id, "rotated", detail))
    return issued


class KeyCache(VerifiedCache[ApiKey]):
    """Recently verified keys by id, so a busy client does not cost a database read per
    request. A revocation or rotation made elsewhere takes effect here after at most
    ``ttl_seconds`` (``SO1_AUTH_CACHE_SECONDS``; 0 turns the cache off)."""

    def remember(self, key: ApiKey) -> None:
        self.put(key.id, key)


NO_CACHE = KeyCache(0)


def verified_from_cache(cache: KeyCache, clock: Clock, token: str | None) -> ApiKey | None:
    """The key when the cache vouches for it and the secret matches; None means: ask the
    database (a miss, an expired or wrong key: failures are always decided and audited there).
    """
    parts = split_token(token) if token else None
    key = cache.get(parts[0]) if parts else None
    if key is None or parts is None or not key.is_usable(clock.now()):
        return None
    if not secret_matches(key, parts[1]):
        return None
    last = key.last_used_at
    return key if last is not None and clock.now() - last < _TOUCH_INTERVAL else None


def authenticate(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    token: str | None,
    source_ip: str | None,
    cache: KeyCache = NO_CACHE,
) -> ApiKey:
    """The key behind a bearer token, as its person's role lets it act; any failure is the
    same 401 (and is audited), except a right token of a disabled person, which says so."""
    now = clock.now()
    parts = split_token(token) if token else None
    key = cache.get(parts[0]) if parts else None
    if parts is not None and key is None:
        key = _stored_key(uow_factory, parts[0], parts[1], now, source_ip)
    if key is None or parts is None or not key.is_usable(now) or not secret_matches(key, parts[1]):
        if parts is not None:
            cache.forget(parts[0])
        _audit_denial(uow_factory, now, "auth.failed", parts[0] if parts else None, source_ip)
        raise Unauthorized(_GENERIC_401)
    if key.last_used_at is None or now - key.last_used_at >= _TOUCH_INTERVAL:
        with uow_factory() as uow:
            uow.keys.touch(key.id, now)
            uow.commit()
        key = replace(key, last_used_at=now)
    cache.remember(key)
    return key


def _stored_key(
    uow_factory: UnitOfWorkFactory, key_id: str, secret: str, now: datetime, ip: str | None
) -> ApiKey | None:
    """The stored key as its person's role lets it act (None: no such key). Once the secret
    matches, a disabled person's key is refused here, audited and named."""
    with uow_factory(read_only=True) as uow:
        key = uow.keys.get(key_id)
        if key is None or not key.is_usable(now) or not secret_matches(key, secret):
            return key
        try:
            return accounts.as_its_person_allows(uow, key)
        except Unauthorized as refused:
            denial = refused
    detail = {"reason": "person disabled", "person": key.person or ""}
    _audit_denial(uow_factory, now, "auth.failed", key_id, ip, detail=detail)
    raise denial


def audit_forbidden(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, scope: Scope, action: str
) -> None:
    _audit_denial(
        uow_factory,
        clock.now(),
        "auth.forbidden",
        actor.key_id,
        actor.source_ip,
        detail={"needed_scope": scope.value, "request": action},
        actor=actor.label,
    )


def _audit_denial(
    uow_factory: UnitOfWorkFactory,
    at: datetime,
    action: str,
    key_id: str | None,
    source_ip: str | None,
    detail: dict[str, str] | None = None,
    actor: str = "anonymous",
) -> None:
    with uow_factory() as uow:
        uow.audit.add(
            AuditRecord(
                at=at,
                actor=actor,
                action=action,
                resource_type="api_key",
                resource_id=key_id,
                outcome=Outcome.DENIED,
                source_ip=source_ip,
                detail=detail or {},
            )
        )
        uow.commit()


def audit_log(
    uow_factory: UnitOfWorkFactory,
    reader: Actor,
    limit: int,
    offset: int,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditRecord]:
    """The audit log; rows about security incidents only for a cleared ``reader``."""
    private = reader.security_cleared
    with uow_factory(read_only=True) as uow:
        return uow.audit.search(limit, offset, actor=actor, action=action, include_private=private)
