"""Idempotency-Key storage: a unique (principal, key) row claimed before the request runs.

Claims expire, so a key is never stuck: a stored answer is replayed for KEEP (24 h), then the
key may be used afresh; a claim with no answer (its request still running, or its release
lost to a database outage) is taken over after LEASE. A request that failed releases its
claim at once; when that release itself fails, this process retries it before its next
claim, so the client's retry gets through instead of a 409.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from so1.adapters.db import tables as t
from so1.adapters.db.engine import WRITE_OPTION
from so1.errors import Unavailable
from so1.ports import StoredResponse

log = logging.getLogger("so1.api")

_k = t.idempotency_keys
KEEP = timedelta(hours=24)  # a stored answer is replayed this long
LEASE = timedelta(minutes=5)  # an unanswered claim is taken over after this
PURGE_EVERY = timedelta(minutes=10)  # expired rows of every key are deleted this often

T = TypeVar("T")


class SqlIdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._unreleased: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._purged_at: datetime | None = None

    def claim(self, principal: str, key: str, request_hash: str, now: datetime) -> str | None:
        self._retry_releases()
        return self._available(lambda conn: self._claim(conn, principal, key, request_hash, now))

    def _claim(
        self, conn: Connection, principal: str, key: str, request_hash: str, now: datetime
    ) -> str | None:
        mine = and_(_k.c.principal == principal, _k.c.key == key)
        expired = or_(
            _k.c.created_at < now - KEEP,
            and_(_k.c.status_code.is_(None), _k.c.created_at < now - LEASE),
        )
        conn.execute(delete(_k).where(mine, expired))
        self._purge(conn, now)
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        values = {"principal": principal, "key": key, "request_hash": request_hash}
        inserted = conn.execute(
            dialect_insert(_k)
            .values(**values, created_at=now)
            .on_conflict_do_nothing()
            .returning(_k.c.id)
        ).first()
        if inserted is not None:
            return None
        stored: str = conn.execute(select(_k.c.request_hash).where(mine)).scalar_one()
        return stored

    def _purge(self, conn: Connection, now: datetime) -> None:
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        conn.execute(delete(_k).where(_k.c.created_at < now - KEEP))

    def stored(self, principal: str, key: str) -> StoredResponse | None:
        query = select(_k.c.status_code, _k.c.body, _k.c.content_type).where(
            _k.c.principal == principal, _k.c.key == key
        )
        row = self._available(lambda conn: conn.execute(query).first(), write=False)
        if row is None or row.status_code is None:
            return None
        return StoredResponse(row.status_code, row.body, row.content_type)

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        answer = {
            "status_code": response.status_code,
            "body": response.body,
            "content_type": response.content_type,
        }
        self._available(
            lambda conn: conn.execute(
                update(_k).where(_k.c.principal == principal, _k.c.key == key).values(**answer)
            )
        )

    def release(self, principal: str, key: str) -> None:
        """Forget the claim of a request that failed; if the database is down too, remember
        to do it before the next claim (and the lease ends it in any case)."""
        try:
            self._delete(principal, key)
        except Unavailable:
            log.warning("could not release an Idempotency-Key claim; retrying on the next claim")
            with self._guard:
                self._unreleased.add((principal, key))

    def _retry_releases(self) -> None:
        with self._guard:
            pending, self._unreleased = self._unreleased, set()
        for index, (principal, key) in enumerate(pending):
            try:
                self._delete(principal, key)
            except Unavailable:
                with self._guard:
                    self._unreleased.update(list(pending)[index:])
                return

    def _delete(self, principal: str, key: str) -> None:
        self._available(
            lambda conn: conn.execute(
                delete(_k).where(
                    _k.c.principal == principal, _k.c.key == key, _k.c.status_code.is_(None)
                )
            )
        )

    def _available(self, work: Callable[[Connection], T], write: bool = True) -> T:
        """``work`` in a transaction; Unavailable (503) while the database is down."""
        try:
            with (
                self._engine.connect().execution_options(**{WRITE_OPTION: write}) as conn,
                conn.begin(),
            ):
                return work(conn)
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise Unavailable("the database is unavailable; retry shortly") from exc
            raise
