"""bench/triage_parallel.py drains what it loaded, triage only or, with --commander, each
new incident declared at once by the incident-commander agent as `so1 worker` does."""

from __future__ import annotations

import pytest
from bench.triage_parallel import drain, faults, load
from sqlalchemy import create_engine, text

from tests.conftest import _truncate_postgres

pytestmark = pytest.mark.postgres


def commander_runs(url: str) -> tuple[int, int]:
    """(incidents, incident-commander runs)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        runs = conn.execute(
            text("SELECT count(*) FROM agent_runs WHERE agent = 'incident-commander'")
        ).scalar_one()
    engine.dispose()
    return int(incidents), int(runs)


@pytest.mark.parametrize("declare", [False, True], ids=["triage only", "--commander"])
def test_the_bench_drains_its_backlog_and_declares_only_when_asked(
    postgres_url: str, declare: bool
) -> None:
    _truncate_postgres(postgres_url)
    load(postgres_url, 40, 4)
    assert drain(postgres_url, 1, declare) > 0
    assert faults(postgres_url) == (0, 0)
    assert commander_runs(postgres_url) == (4, 4 if declare else 0)
