"""Server secrets (the cookie-signing key), one-time login links, web sessions (a key's or,
through single sign-on, a person's) and single sign-ons under way."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Column, Connection, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite

from so1.adapters.db.columns import UTCDateTime, metadata
from so1.adapters.db.secret_box import SecretBox

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),  # sealed (fernet:...) when SO1_SECRET_KEY is set
    Column("created_at", UTCDateTime(), nullable=False),
)

login_links = Table(
    "login_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", String(40), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", String(40)),  # None: a single sign-on session of ``person``
    Column("person", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

oidc_sign_ins = Table(
    "oidc_sign_ins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
)


class SqlWebRepository:
    def __init__(self, conn: Connection, box: SecretBox | None = None) -> None:
        self._conn = conn
        self._box = box or SecretBox()

    def secret(self, name: str, at: datetime) -> str:
        """The named secret, made (256 random bits) by whichever server asks first."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        made = self._box.seal(secrets.token_urlsafe(32))
        values = {"name": name, "value": made, "created_at": at}
        self._conn.execute(dialect.insert(server_secrets).values(values).on_conflict_do_nothing())
        found = self._conn.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one()
        return self._box.open(str(found))

    def reseal_secrets(self) -> int:
        """Write every server secret again, sealed with the first key (or in clear without
        one); returns how many."""
        rows = self._conn.execute(select(server_secrets.c.name, server_secrets.c.value)).all()
        for name, value in rows:
            sealed = self._box.seal(self._box.open(str(value)))
            self._conn.execute(
                update(server_secrets).where(server_secrets.c.name == name).values(value=sealed)
            )
        return len(rows)

    def add_link(self, token_hash: str, key_id: str, expires_at: datetime, at: datetime) -> None:
        self._conn.execute(
            login_links.insert().values(
                token_hash=token_hash, key_id=key_id, expires_at=expires_at, created_at=at
            )
        )

    def add_session(
        self,
        token_hash: str,
        key_id: str | None,
        expires_at: datetime,
        at: datetime,
        person: str | None = None,
    ) -> None:
        self._conn.execute(
            web_sessions.insert().values(
                token_hash=token_hash,
                key_id=key_id,
                person=person,
                expires_at=expires_at,
                created_at=at,
            )
        )

    def session_owner(self, token_hash: str, at: datetime) -> tuple[str | None, str | None]:
        c = web_sessions.c
        found = self._conn.execute(
            select(c.key_id, c.person).where(
                c.token_hash == token_hash, c.revoked_at.is_(None), c.expires_at > at
            )
        ).first()
        return (found[0], found[1]) if found else (None, None)

    def revoke_person_sessions(self, handle: str, at: datetime) -> int:
        c = web_sessions.c
        done = self._conn.execute(
            update(web_sessions)
            .where(c.person == handle, c.key_id.is_(None), c.revoked_at.is_(None))
            .where(c.expires_at > at)
            .values(revoked_at=at)
        )
        return int(done.rowcount)

    def add_sign_in(
        self, state_hash: str, nonce: str, code_verifier: str, expires_at: datetime, at: datetime
    ) -> None:
        self._conn.execute(
            oidc_sign_ins.insert().values(
                state_hash=state_hash,
                nonce=nonce,
                code_verifier=code_verifier,
                expires_at=expires_at,
                created_at=at,
            )
        )

    def use_sign_in(self, state_hash: str, at: datetime) -> tuple[str, str] | None:
        c = oidc_sign_ins.c
        found = self._conn.execute(
            update(oidc_sign_ins)
            .where(c.state_hash == state_hash, c.used_at.is_(None), c.expires_at > at)
            .values(used_at=at)
            .returning(c.nonce, c.code_verifier)
        ).first()
        return (str(found[0]), str(found[1])) if found else None

    def revoke_session(self, token_hash: str, at: datetime) -> bool:
        c = web_sessions.c
        done = self._conn.execute(
            update(web_sessions)
            .where(c.token_hash == token_hash, c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return done.rowcount == 1

    def revoke_sessions_of(self, key_ids: list[str], at: datetime) -> int:
        """End every live session signed in with one of ``key_ids``; how many ended."""
        if not key_ids:
            return 0
        c = web_sessions.c
        done = self._conn.execute(
            update(web_sessions)
            .where(c.key_id.in_(key_ids), c.revoked_at.is_(None), c.expires_at > at)
            .values(revoked_at=at)
        )
        return int(done.rowcount)

    def use_link(self, token_hash: str, at: datetime) -> str | None:
        """The key id of an unused, unexpired link, marked used; None otherwise."""
        c = login_links.c
        found = self._conn.execute(
            update(login_links)
            .where(c.token_hash == token_hash, c.used_at.is_(None), c.expires_at > at)
            .values(used_at=at)
            .returning(c.key_id)
        ).scalar_one_or_none()
        return str(found) if found else None
