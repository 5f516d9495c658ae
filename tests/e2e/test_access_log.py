"""`so1 serve` writes an access line per request (uvicorn's format, in batches a fraction of a
second later) unless SO1_ACCESS_LOG=false or the log level is above info."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_processes import clean_env, serving

LINE = '"GET /v1/health?probe=access-log HTTP/1.1" 200 OK'


@pytest.mark.parametrize(
    ("settings", "logged"),
    [({}, True), ({"SO1_ACCESS_LOG": "false"}, False), ({"SO1_LOG_LEVEL": "warning"}, False)],
)
def test_the_access_log_follows_its_settings(
    tmp_path: Path, settings: dict[str, str], logged: bool
) -> None:
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}", SO1_TRIAGE_PROCESS="false")
    env |= settings
    with serving(tmp_path, env) as server:
        assert httpx.get(f"{server.url}/v1/health?probe=access-log").status_code == 200
        deadline = time.monotonic() + (5 if logged else 0.5)
        while LINE not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (LINE in server.output()) is logged, server.output()
        assert "SO1 serving on" in server.output()


def test_every_request_is_logged_by_the_time_the_server_stops(tmp_path: Path) -> None:
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}", SO1_TRIAGE_PROCESS="false")
    with serving(tmp_path, env) as server:
        for n in range(20):
            httpx.get(f"{server.url}/v1/health?probe=n{n}")
        server.stop()
        output = server.output()
    assert [f"probe=n{n} " in output for n in range(20)] == [True] * 20, output
