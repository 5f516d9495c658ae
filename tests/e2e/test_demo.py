"""`so1 demo` end to end with real processes: supervisord running the sample service, a real
`so1 serve`, traffic, the alert, triage, declaration, the pool raised, verification,
resolution. Checked from its output and from the database it leaves behind."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_processes import clean_env

pytestmark = pytest.mark.slow


def test_so1_demo_runs_the_worked_example(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    so1 = str(Path(sys.executable).parent / "so1")
    done = subprocess.run(
        [so1, "demo", "--workdir", str(workdir), "--stability-seconds", "15"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for expected in (
        "SEV2",
        "triage: connection_exhaustion",
        "Incident Declared",
        "Set DATABASE_POOL_SIZE=20→50 on control-plane-api",
        "7. Resolved",
        "Incident Resolved",
    ):
        assert expected in output, output

    db = sqlite3.connect(workdir / "so1.db")
    [(incident_id, status, severity)] = db.execute(
        "SELECT id, status, severity FROM incidents"
    ).fetchall()
    assert (status, severity) == ("resolved", "SEV2")
    kinds = [
        k
        for (k,) in db.execute(
            "SELECT kind FROM timeline_events WHERE incident_id = ? ORDER BY id", (incident_id,)
        )
    ]
    for kind in (
        "triage.report",
        "mitigation.started",
        "mitigation.finished",
        "verification.result",
        "status.changed",
    ):
        assert kind in kinds
    outcomes = [
        json.loads(d)["outcome"]
        for (d,) in db.execute(
            "SELECT data FROM timeline_events WHERE kind = 'verification.result' ORDER BY id"
        )
    ]
    assert outcomes == ["effective", "stable"]
    env = json.loads((workdir / "platform" / "control-plane-api" / "env.json").read_text())
    assert env["DATABASE_POOL_SIZE"] == "50"
    assert "pool-service listening" in (workdir / "service.log").read_text()
