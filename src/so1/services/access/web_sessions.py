"""Signing in to the web pages: with an API key (its scopes apply to the pages; the pages need
``read``), a one-time login link from `so1 login-link`, or single sign-on (services/access/
sso.py: the session then belongs to the person, no key, and acts with their role). A session
is a row (its token kept as SHA-256 only) that signing out revokes; the cookie is signed and
carries the session's token and its CSRF token. Every request checks the session is live, the
key still usable and its person not disabled (their role bounds the key's scopes:
services/access/accounts.py; a person's own session acts with their role, viewer when unset).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from so1.domain.access import ApiKey, Role, Scope
from so1.domain.oncall import Person
from so1.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access import accounts, keys as access
from so1.services.access.clearance import actor_for, actor_for_person
from so1.services.incidents.recording import Actor, Change, record

SESSION_SECONDS = 12 * 3600
LINK_LIFETIME = timedelta(minutes=15)
COOKIE_SIGNER = "web-session"


@dataclass(frozen=True)
class Session:
    key: ApiKey | None  # None: ``person`` signed in through single sign-on
    csrf: str
    token: str = ""  # the session row's token (its SHA-256 is stored)
    person: Person | None = None

    @property
    def name(self) -> str:
        """Who the header says is signed in: the key's name, or the person's handle."""
        return self.key.name if self.key else self.actor.name

    @property
    def actor(self) -> Actor:
        if self.key is not None:
            return actor_for(self.key)
        assert self.person is not None
        return actor_for_person(self.person, person_scopes(self.person))

    @property
    def of_a_person(self) -> bool:
        """Signed in as a person (single sign-on, or a key that names one), not a service key."""
        return self.person is not None or (self.key is not None and self.key.person is not None)

    def may(self, scope: Scope) -> bool:
        if self.key is not None:
            return self.key.allows(scope)
        return self.person is not None and scope in person_scopes(self.person)


def person_scopes(person: Person) -> frozenset[Scope]:
    """What a person's own session may do: their role's scopes (viewer's when unset)."""
    return (person.role or Role.VIEWER).scopes


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
    if not key.allows(Scope.READ):
        raise Forbidden("the pages need a key with the 'read' scope")
    now = clock.now()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with uow_factory() as uow:
        uow.web.add_session(_hash(token), key.id, now + timedelta(seconds=SESSION_SECONDS), now)
        uow.commit()
    cookie = _serializer(uow_factory, clock).dumps({"s": token, "c": csrf})
    return Session(key, csrf, token), str(cookie)


def end(uow_factory: UnitOfWorkFactory, clock: Clock, session: Session) -> None:
    """Sign out: the session row is revoked, so the cookie is refused from now on."""
    with uow_factory() as uow:
        uow.web.revoke_session(_hash(session.token), clock.now())
        uow.commit()


def start_for_person(
    uow_factory: UnitOfWorkFactory, clock: Clock, person: Person
) -> tuple[Session, str]:
    """A session of ``person`` without a key (single sign-on); returns it and its cookie."""
    now = clock.now()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + timedelta(seconds=SESSION_SECONDS)
    with uow_factory() as uow:
        uow.web.add_session(_hash(token), None, expires, now, person=person.handle)
        uow.commit()
    cookie = _serializer(uow_factory, clock).dumps({"s": token, "c": csrf})
    return Session(None, csrf, token, person), str(cookie)


def from_cookie(uow_factory: UnitOfWorkFactory, clock: Clock, cookie: str | None) -> Session | None:
    if not cookie:
        return None
    try:
        data = _serializer(uow_factory, clock).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    token = str(data.get("s")) if isinstance(data, dict) else ""
    csrf = str(data.get("c")) if isinstance(data, dict) else ""
    with uow_factory(read_only=True) as uow:
        key_id, handle = uow.web.session_owner(_hash(token), clock.now()) if token else (None, None)
        if key_id is None:
            person = uow.oncall.person(handle) if handle else None
            live = person is not None and not person.disabled
            return Session(None, csrf, token, person) if live else None
        key = _as_person_allows(uow, uow.keys.get(key_id))
    if key is None or not key.is_usable(clock.now()) or not key.allows(Scope.READ):
        return None  # signed out, or the key revoked or expired since: the session ends
    return Session(key, csrf, token)


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
        if key is not None:
            key = accounts.as_its_person_allows(uow, key)
    if key is None or not key.is_usable(now):
        raise Unauthorized("this login link is unknown, used or expired")
    return _start(uow_factory, clock, key)


def _as_person_allows(uow: UnitOfWork, key: ApiKey | None) -> ApiKey | None:
    """The key as its person's role lets it act; None when there is none or they are
    disabled (the session ends)."""
    try:
        return accounts.as_its_person_allows(uow, key) if key else None
    except Unauthorized:
        return None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
