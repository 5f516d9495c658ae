"""`so1 serve` writes uvicorn's access log line per request unless SO1_ACCESS_LOG=false."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.test_processes import clean_env, serving


@pytest.mark.parametrize(("setting", "logged"), [(None, True), ("false", False)])
def test_the_access_log_follows_its_setting(
    tmp_path: Path, setting: str | None, logged: bool
) -> None:
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}", SO1_TRIAGE_PROCESS="false")
    if setting is not None:
        env["SO1_ACCESS_LOG"] = setting
    with serving(tmp_path, env) as server:
        assert httpx.get(f"{server.url}/v1/health?probe=access-log").status_code == 200
        output = server.output()
    assert ("GET /v1/health?probe=access-log" in output) is logged, output
    assert "SO1 serving on" in output
