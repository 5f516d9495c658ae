"""Database health check for GET /v1/health."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError


class DatabaseHealth:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self) -> str:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return f"error: {type(exc).__name__}"
        return "ok"
