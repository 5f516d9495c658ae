"""Signing in to the web pages: with an API key (its scopes apply to the pages) or a one-time
login link from `so1 login-link`. The session is a signed cookie naming the key and a CSRF
token; every request checks the key is still usable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from so1.domain.access import ApiKey, Scope
from so1.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor, Change, record

SESSION_SECONDS = 12 * 3600
LINK_LIFETIME = timedelta(minutes=15)
COOKIE_SIGNER = "web-session"


@dataclass(frozen=True)
class Session:
    key: ApiKey
    csrf: str

    @property
    def actor(self) -> Actor:
        return Actor(
            name=self.key.name,
            key_id=self.key.id,
            security_cleared=self.key.allows(Scope.SECURITY),
            can_deploy=self.key.allows(Scope.DEPLOY),
        )

    def may(self, scope: Scope) -> bool:
        return self.key.allows(scope)


def _serializer(uow_factory: UnitOfWorkFactory, clock: Clock) -> URLSafeTimedSerializer:
    with uow_factory() as uow:
        secret = uow.web.secret(COOKIE_SIGNER, clock.now())
        uow.commit()
    return URLSafeTimedSerializer(secret, salt="so1-web-session")


def start_with_key(
    uow_factory: UnitOfWorkFactory, clock: Clock, token: str, ip: str | None
) -> tuple[Session, str]:
    """Verify the API key (a bad one is refused like the API refuses it); returns the session
    and its signed cookie value."""
    key = access.authenticate(uow_factory, clock, token, ip, access.NO_CACHE)
    return _start(uow_factory, clock, key)


def _start(uow_factory: UnitOfWorkFactory, clock: Clock, key: ApiKey) -> tuple[Session, str]:
    csrf = secrets.token_urlsafe(24)
    cookie = _serializer(uow_factory, clock).dumps({"k": key.id, "c": csrf})
    return Session(key, csrf), str(cookie)


def from_cookie(uow_factory: UnitOfWorkFactory, clock: Clock, cookie: str | None) -> Session | None:
    if not cookie:
        return None
    try:
        data = _serializer(uow_factory, clock).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    with uow_factory(read_only=True) as uow:
        key = uow.keys.get(str(data.get("k")))
    if key is None or not key.is_usable(clock.now()):
        return None  # revoked or expired since: the session ends with it
    return Session(key, str(data.get("c")))


@dataclass(frozen=True)
class LoginLink:
    token: str  # for /login/<token>; shown once, only its hash is kept
    key: ApiKey
    expires_at: datetime


def new_login_link(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, key_name: str | None = None
) -> LoginLink:
    """A token for /login/<token>, usable once within 15 minutes. It signs in as the caller's
    own key, or (``key_name``, admin keys only) as the newest usable key of that name."""
    now = clock.now()
    with uow_factory() as uow:
        caller = uow.keys.get(actor.key_id) if actor.key_id else None
        if key_name is None or (caller is not None and key_name == caller.name):
            if caller is None:
                raise ValidationFailed("name the key to sign in as", "key_name")
            key = caller
        elif caller is not None and not caller.allows(Scope.ADMIN):
            raise Forbidden("only an admin key makes login links for other keys")
        else:
            key = _newest_usable(uow.keys.all(), key_name, now)
        token = secrets.token_urlsafe(32)
        expires_at = now + LINK_LIFETIME
        uow.web.add_link(_hash(token), key.id, expires_at, now)
        change = Change("web.login_link", "api_key", key.id, f"login link for {key.name}")
        record(uow, actor, now, change)
        uow.commit()
    return LoginLink(token, key, expires_at)


def _newest_usable(keys: list[ApiKey], name: str, now: datetime) -> ApiKey:
    usable = [k for k in keys if k.name == name and k.is_usable(now)]
    if not usable:
        raise NotFound(f"no usable API key named '{name}' (so1 keys list)")
    return max(usable, key=lambda k: k.created_at)


def start_with_link(
    uow_factory: UnitOfWorkFactory, clock: Clock, token: str
) -> tuple[Session, str]:
    now = clock.now()
    with uow_factory() as uow:
        key_id = uow.web.use_link(_hash(token), now)
        uow.commit()
    with uow_factory(read_only=True) as uow:
        key = uow.keys.get(key_id) if key_id else None
    if key is None or not key.is_usable(now):
        raise Unauthorized("this login link is unknown, used or expired")
    return _start(uow_factory, clock, key)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
