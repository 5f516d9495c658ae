"""Signing in to the web pages: with an API key (its scopes apply to the pages) or a one-time
login link from `so1 login-link`. The session is a signed cookie naming the key and a CSRF
token; every request checks the key is still usable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from so1.domain.access import ApiKey, Scope
from so1.errors import NotFound, Unauthorized
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.access import keys as access
from so1.services.access.clearance import actor_for
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
        return actor_for(self.key)

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


def new_login_link(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, key_name: str
) -> str:
    """A token for /login/<token>, usable once within 15 minutes, signing in as the newest
    usable key named ``key_name``."""
    now = clock.now()
    with uow_factory() as uow:
        usable = [k for k in uow.keys.all() if k.name == key_name and k.is_usable(now)]
        if not usable:
            raise NotFound(f"no usable API key named '{key_name}' (so1 keys list)")
        key = max(usable, key=lambda k: k.created_at)
        token = secrets.token_urlsafe(32)
        uow.web.add_link(_hash(token), key.id, now + LINK_LIFETIME, now)
        record(
            uow,
            actor,
            now,
            Change("web.login_link", "api_key", key.id, f"login link for {key_name}"),
        )
        uow.commit()
    return token


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
