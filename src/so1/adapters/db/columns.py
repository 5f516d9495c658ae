"""Column types every table module shares, and the one MetaData they all register in.

Import ``so1.adapters.db.schema.metadata`` to see every table: this module's ``metadata``
holds only the tables of the modules imported so far.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware datetimes (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _ServableJson(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL) that always reads back as something the API can serialise:
    parts nested past domain.json_limits.FOLD_DEPTH (only rows stored before the input
    limits can hold them) come back as their JSON text instead of failing every read. The
    engine's JSON reader does the folding (json_codec.loads, set by engine.build_engine),
    where the text shows at no cost whether a value can be that deep."""

    impl = JSON
    cache_ok = True
    should_evaluate_none = True  # as JSON's default: None is stored as JSON null

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())


Json: Any = _ServableJson()

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
