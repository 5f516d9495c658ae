"""Fault: `kill -9` of `so1 serve` under a load of new alerts, on SQLite and PostgreSQL.
Every alert answered 202 is in the database afterwards (durable before acknowledged), and
the triage the dead server had not done resumes when a server starts again.

The server killed here takes alerts with its triage switched off, so that there is always
triage left undone when it dies (with triage on it keeps up, and a handful is left); triage
claims and decides a batch in one transaction, so a kill in the middle of one leaves its
alerts pending as well."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.fault_support import AlertLoad, Alerts, wait_until
from tests.e2e.test_processes import clean_env, serving, so1_keys_create

pytestmark = pytest.mark.slow

KILL_AFTER = 150  # acknowledged alerts; the load would go on to LIMIT
LIMIT = 600


def test_kill_9_under_load_loses_no_acknowledged_alert(db_url: str, tmp_path: Path) -> None:
    env = clean_env(SO1_DATABASE_URL=db_url, SO1_LOG_LEVEL="warning")
    token = so1_keys_create(tmp_path, env)
    alerts = Alerts(db_url)
    intake_only = env | {"SO1_TRIAGE_WORKER": "false"}
    try:
        with (
            serving(tmp_path, intake_only) as server,
            AlertLoad(server.url, token, limit=LIMIT) as load,
        ):
            wait_until(lambda: load.count("202") >= KILL_AFTER, "acknowledged alerts")
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)
            wait_until(lambda: load.count("ConnectError") > 0, "the senders to notice")
        acked = set(load.acked)
        stored = alerts.keys("load")
        pending_at_kill = alerts.pending_triage()

        assert KILL_AFTER <= len(acked) < LIMIT, load.statuses
        assert acked - stored == set(), f"{len(acked - stored)} acknowledged alerts lost"
        assert set(load.statuses) <= {"202", "ConnectError", "ReadError", "RemoteProtocolError"}
        assert pending_at_kill == len(stored)

        with serving(tmp_path, env):
            wait_until(lambda: alerts.pending_triage() == 0, "triage to resume", timeout=120)
        assert alerts.keys("load") == stored  # nothing lost or made up by the restart
    finally:
        alerts.close()
