"""A woken triage pass gathers for a moment on PostgreSQL (several commits share its reads), not
on SQLite, where one writer at a time means a bigger pass keeps intake waiting longer."""

from __future__ import annotations

import pytest

from so1.bootstrap import _job_settings
from so1.config import Settings
from so1.services.background import TRIAGE_GATHER_SECONDS


@pytest.mark.parametrize(
    ("url", "gather"),
    [
        ("sqlite:///./so1.db", 0.0),
        ("sqlite+pysqlite:////tmp/x.db", 0.0),
        ("postgresql+psycopg://so1@localhost/so1", TRIAGE_GATHER_SECONDS),
    ],
)
def test_the_gather_before_a_triage_pass_depends_on_the_engine(url: str, gather: float) -> None:
    assert TRIAGE_GATHER_SECONDS > 0
    assert _job_settings(Settings(database_url=url)).triage_gather_seconds == gather
