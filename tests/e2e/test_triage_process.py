"""`so1 serve` triages in a child process it starts and supervises (issue 18, item 3), on
SQLite and PostgreSQL alike: the server's threads never triage, an alert is triaged by the
child, a killed child is started again, and the child ends with its server."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.e2e.intake_support import SEED_ALERT
from tests.e2e.test_processes import (
    START_TIMEOUT,
    Server,
    clean_env,
    serving,
    so1_keys_create,
)

pytestmark = pytest.mark.slow
T = TypeVar("T")


def children_running_worker(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and whose command is `so1 worker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"worker" in command:
            found.append(int(entry.name))
    return found


def wait_for(probe: Callable[[], T], server: Server, what: str) -> T:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        assert server.proc.poll() is None, server.output()
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{server.output()}")


def post_alert(server: Server, token: str, **fields: str) -> str:
    body = {**SEED_ALERT, **fields}
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{server.url}/v1/alerts", json=body, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    alert_id: str = answer.json()["alert_id"]
    return alert_id


def incident_of(server: Server, token: str, alert_id: str) -> str | None:
    headers = {"Authorization": f"Bearer {token}"}
    found = httpx.get(f"{server.url}/v1/alerts/{alert_id}", headers=headers, timeout=30)
    incident: str | None = found.json().get("incident_id")
    return incident


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file `so1 serve` creates, or the session's PostgreSQL database, emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'so1.db'}"
    from tests.conftest import _truncate_postgres

    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


def test_serve_triages_in_a_supervised_child_that_ends_with_it(
    served_database: str, tmp_path: Path
) -> None:
    env = clean_env(SO1_DATABASE_URL=served_database)
    with serving(tmp_path, env) as server:
        token = so1_keys_create(tmp_path, env)
        (child,) = wait_for(lambda: children_running_worker(server.proc.pid), server, "a child")
        system = httpx.get(
            f"{server.url}/v1/system", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        assert "child process" in system["background"]["engine"]

        first = post_alert(server, token, dedup_key="one")
        assert wait_for(lambda: incident_of(server, token, first), server, "triage")

        os.kill(child, signal.SIGKILL)  # the supervisor starts another
        again = wait_for(
            lambda: [p for p in children_running_worker(server.proc.pid) if p != child],
            server,
            "a new child",
        )
        second = post_alert(server, token, dedup_key="two", service="billing-api")
        assert wait_for(lambda: incident_of(server, token, second), server, "triage again")
        assert "exited with code -9" in server.output()
        os.kill(server.proc.pid, signal.SIGKILL)  # no clean stop: the pipe's end still ends it
        server.proc.wait(10)
    deadline = time.monotonic() + START_TIMEOUT
    while Path(f"/proc/{again[0]}").exists() and time.monotonic() < deadline:
        with open(f"/proc/{again[0]}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                break  # exited; a zombie until its parent (gone) is reaped by init
        time.sleep(0.2)
    alive = Path(f"/proc/{again[0]}").exists()
    state = Path(f"/proc/{again[0]}/stat").read_text().split()[2] if alive else "gone"
    assert state in ("gone", "Z"), f"the triage child outlived its server ({state})"
