"""Migrations: they build exactly the tables the code defines, and they run both ways."""

from __future__ import annotations

from sqlalchemy import inspect

from so1.adapters.db import migrate
from so1.adapters.db.engine import build_engine
from so1.adapters.db.schema import metadata


def test_migrated_schema_matches_table_definitions(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert migrate.schema_drift(engine) == []
        migrated = set(inspect(engine).get_table_names()) - {"alembic_version"}
        ours = {name for name in migrated if not name.startswith("procrastinate_")}
        assert set(metadata.tables) == ours  # one MetaData holds every table
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
