"""Idempotency-Key storage: a unique (principal, key) row claimed before the request runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from so1.adapters.db import tables as t
from so1.adapters.db.engine import WRITE_OPTION
from so1.ports import StoredResponse

_k = t.idempotency_keys


class SqlIdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, principal: str, key: str, request_hash: str, now: datetime) -> str | None:
        try:
            with (
                self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
                conn.begin(),
            ):
                conn.execute(
                    insert(_k).values(
                        principal=principal, key=key, request_hash=request_hash, created_at=now
                    )
                )
            return None
        except IntegrityError:
            with self._engine.connect() as conn:
                stored: str = conn.execute(
                    select(_k.c.request_hash).where(_k.c.principal == principal, _k.c.key == key)
                ).scalar_one()
            return stored

    def stored(self, principal: str, key: str) -> StoredResponse | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_k.c.status_code, _k.c.body, _k.c.content_type).where(
                    _k.c.principal == principal, _k.c.key == key
                )
            ).first()
        if row is None or row.status_code is None:
            return None
        return StoredResponse(row.status_code, row.body, row.content_type)

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            conn.execute(
                update(_k)
                .where(_k.c.principal == principal, _k.c.key == key)
                .values(
                    status_code=response.status_code,
                    body=response.body,
                    content_type=response.content_type,
                )
            )

    def release(self, principal: str, key: str) -> None:
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            conn.execute(delete(_k).where(_k.c.principal == principal, _k.c.key == key))
