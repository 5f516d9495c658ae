"""The writer's PostgreSQL transactions keep generic plans (adapters/db/open_keys.py): said
once per transaction however often a batch asks, and said again in the next one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from so1.adapters.db.open_keys import generic_plans

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = create_engine(postgres_url)
    yield made
    made.dispose()


def mode(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one())


def test_generic_plans_are_set_once_per_transaction_and_again_in_the_next(engine: Engine) -> None:
    said: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SET LOCAL plan_cache_mode"):
            said.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        with conn.begin():
            generic_plans(conn)
            generic_plans(conn)  # the batch's second ask: nothing sent
            assert mode(conn) == "force_generic_plan"
        assert len(said) == 1
        with conn.begin():
            assert mode(conn) == "auto"  # SET LOCAL ended with its transaction
            generic_plans(conn)  # a new transaction on the same connection: said again
            assert mode(conn) == "force_generic_plan"
        assert len(said) == 2
    with engine.connect() as again, again.begin():  # the pooled connection, checked out anew
        generic_plans(again)
        assert mode(again) == "force_generic_plan"
    assert len(said) == 3
