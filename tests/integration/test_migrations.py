"""Migrations: they build exactly the tables the code defines, and they run both ways."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from so1.adapters.db import migrate, partitions
from so1.adapters.db.engine import build_engine
from so1.adapters.db.schema import metadata


def test_migrated_schema_matches_table_definitions(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert migrate.schema_drift(engine) == []
        migrated = set(inspect(engine).get_table_names()) - {"alembic_version"}
        ours = {
            name
            for name in migrated
            if not name.startswith("procrastinate_") and not partitions.is_partition(name)
        }
        assert set(metadata.tables) == ours  # one MetaData holds every table
    finally:
        engine.dispose()


def test_the_growing_tables_are_partitioned_by_week_on_postgresql_only(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                assert not {"alerts_default", "deliveries_default"} & set(
                    inspect(conn).get_table_names()
                )
                return
            kinds: dict[str, str] = dict(
                conn.execute(
                    text(
                        "SELECT relname, relkind FROM pg_class"
                        " WHERE relname IN ('alerts', 'deliveries', 'alert_open_keys')"
                    )
                ).all()
            )
            assert kinds == {"alerts": "p", "deliveries": "p", "alert_open_keys": "r"}
            for table in ("alerts", "deliveries"):
                children = conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
                        " ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
                    ),
                    {"t": table},
                ).scalars()
                this_week = partitions.week_name(table, partitions.week_start(datetime.now(UTC)))
                assert {f"{table}_default", this_week} <= set(children)
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
