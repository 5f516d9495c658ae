"""API keys and scopes: key format ``so1_<id>_<secret>``, hashing, validity rules."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

KEY_PREFIX = "so1"
_ID_BYTES = 8  # public identifier, 16 hex characters
_SECRET_BYTES = 32  # 256 bits of randomness


class Scope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    DEPLOY = "deploy"
    SECURITY = "security"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)


class Role(enum.StrEnum):
    """A person's role: the most their keys and sessions may do (see ``bounded``)."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    DEPLOYER = "deployer"
    SECURITY = "security"
    ADMIN = "admin"

    @property
    def scopes(self) -> frozenset[Scope]:
        return ROLE_SCOPES[self]


_READ_WRITE = frozenset({Scope.READ, Scope.WRITE})
ROLE_SCOPES = {
    Role.VIEWER: frozenset({Scope.READ}),
    Role.RESPONDER: _READ_WRITE,
    Role.DEPLOYER: _READ_WRITE | {Scope.DEPLOY},
    Role.SECURITY: _READ_WRITE | {Scope.DEPLOY, Scope.SECURITY},
    Role.ADMIN: ALL_SCOPES,
}
# What the ``admin`` scope implies; never ``security`` (clearance is that scope itself).
_ADMIN_IMPLIES = frozenset({Scope.READ, Scope.WRITE, Scope.DEPLOY})


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never holds the secret, only its SHA-256."""

    id: str
    name: str
    secret_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    rotated_from: str | None = None
    person: str | None = None  # who holds the key (a handle); the two-person rule compares it
    role: Role | None = None  # the person's role when it bounds ``scopes`` (see ``bounded``)

    @property
    def is_service_key(self) -> bool:
        """A key no person holds: a bot's or an integration's."""
        return self.person is None

    @property
    def holder(self) -> str:
        """The person behind the key, or the key's name when no person was recorded."""
        return self.person or self.name

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at

    def allows(self, scope: Scope) -> bool:
        """``admin`` implies every other scope."""
        return scope in self.scopes or Scope.ADMIN in self.scopes


def bounded(key: ApiKey, role: Role) -> ApiKey:
    """The key as its person's ``role`` lets it act: its scopes (``admin`` spelt out as the
    scopes it implies) intersected with the role's. A key never gains a scope from a role."""
    own = key.scopes | (_ADMIN_IMPLIES if Scope.ADMIN in key.scopes else frozenset())
    return replace(key, scopes=own & role.scopes, role=role)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly made key: ``token`` is shown once and then only its hash exists."""

    key: ApiKey
    token: str


def hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    name: str,
    scopes: frozenset[Scope],
    now: datetime,
    expires_at: datetime | None = None,
    rotated_from: str | None = None,
    person: str | None = None,
) -> IssuedKey:
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    key = ApiKey(
        id=key_id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=scopes,
        created_at=now,
        expires_at=expires_at,
        rotated_from=rotated_from,
        person=person,
    )
    return IssuedKey(key=key, token=f"{KEY_PREFIX}_{key_id}_{secret}")


def split_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` from a presented token, or None when it is not one of ours."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or len(key_id) != _ID_BYTES * 2 or not secret:
        return None
    return key_id, secret


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_hash, hash_secret(secret))


def parse_scopes(names: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Scopes from their names; raises ValueError naming the unknown ones."""
    known = {s.value for s in Scope}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return frozenset(Scope(n) for n in names)
