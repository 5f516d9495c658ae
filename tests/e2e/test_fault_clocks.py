"""Fault: `kill -9` of a `so1 worker` in the middle of a runbook clocks pass (PostgreSQL,
procrastinate). The dead worker's pass holds the clocks lock; once its heartbeat has been
silent for the stall timeout the pass is failed and a fresh one runs on the surviving worker.
Escalations resume within the stall timeout plus two clock periods, and each fires once.

The pass is made slow, so that it can be caught in the middle, by a real feature: an open
incident on a service whose health check (a local server) takes a few seconds to answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from so1.adapters.clock import FixedClock, SystemClock
from so1.agents.commander.contract import CommanderRequest
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from so1.services.declaration.flow import commander_request
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from tests.conftest import _truncate_postgres
from tests.contract.health_server import health_server
from tests.e2e.test_api_oncall import example
from tests.e2e.test_processes import clean_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLOCK_SECONDS = 5  # the shortest tick procrastinate's cron gives the clocks job
STALL_SECONDS = 6
SLOW_HEALTH_SECONDS = 4.0
START_TIMEOUT = 60.0
PER_PROCESS = 4  # procrastinate workers in one `so1 worker`: triage, delivery, clocks, recovery
# Late and marked escalate: true (initial_communication too when the worker's delivery of the
# declaration is slower than its clocks pass).
LATE_CHECKS = {"acknowledged", "commander"}


@contextmanager
def worker(cwd: Path, env: dict[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    log = cwd / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "so1", "worker"], cwd=cwd, env=env, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_for(found: Callable[[], Any], what: Any, timeout: float = START_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what() if callable(what) else what}")


class Jobs:
    """Reads procrastinate's tables."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def scalars(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).scalars())

    def workers(self) -> list[int]:
        return self.scalars("SELECT id FROM procrastinate_workers ORDER BY id")

    def clocks_pass_of(self) -> int | None:
        """The worker running a clocks pass now, if any."""
        running = self.scalars(
            "SELECT worker_id FROM procrastinate_jobs WHERE task_name = 'so1.clocks'"
            " AND status = 'doing' AND worker_id IS NOT NULL"
        )
        return running[0] if running else None

    def alarms(self, incident_id: str) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT check_id, occurrence FROM runbook_alarms WHERE incident_id = :i"),
                {"i": incident_id},
            )
            return [(str(a), int(o)) for a, o in rows]

    def timeline(self, incident_id: str, kind: str) -> list[Any]:
        return self.scalars(
            "SELECT data FROM timeline_events WHERE incident_id = :i AND kind = :k",
            i=incident_id,
            k=kind,
        )


def set_up(url: str, health_url: str) -> Container:
    """On-call config, a slow service with an open incident (every clocks pass probes it),
    and the owning team; no background work in this process."""
    quiet = Settings(
        database_url=url,
        triage_worker=False,
        delivery_worker=False,
        runbook_clocks=False,
        outbound_allow="127.0.0.1/32",  # the slow service is a local server
    )
    container = build_container(quiet, clock=FixedClock(SystemClock().now()))
    token = access.ensure_admin_key(container.uow, container.clock)
    assert token is not None
    with TestClient(create_app(container)) as api:
        api.headers["Authorization"] = f"Bearer {token.token}"
        assert api.put("/v1/oncall/config", json=example()).status_code == 200
        for name, url_ in (("slow-svc", health_url), ("control-plane-api", None)):
            entry = {"tier": "critical", "owner_team": "backend", "health_url": url_}
            made = api.put(f"/v1/services/{name}", json=entry)
            assert made.status_code in (200, 201), made.text
    create_incident(
        container.uow,
        container.clock,
        Actor("t"),
        NewIncident("slow", Severity.SEV4, service="slow-svc"),
    )
    return container


def declare_ten_minutes_ago(container: Container) -> str:
    """The issue's reproduction: an incident detected (and its commander paged) 10 minutes
    ago, so its runbook checks are late and its escalation policy is due."""
    clock = container.clock
    assert isinstance(clock, FixedClock)
    clock.set(SystemClock().now() - timedelta(minutes=10))
    new = NewIncident("Checkout down", Severity.SEV2, service="control-plane-api")
    incident = create_incident(container.uow, clock, Actor("t"), new)
    commander = container.agents.commander
    assert commander is not None
    commander_request(container.uow, clock, Actor("t"), commander, CommanderRequest(incident.id))
    return incident.id


def test_clocks_resume_after_a_worker_is_killed_mid_pass(postgres_url: str, tmp_path: Path) -> None:
    _truncate_postgres(postgres_url)
    env = clean_env(
        SO1_DATABASE_URL=postgres_url,
        SO1_CLOCK_SECONDS=str(CLOCK_SECONDS),
        SO1_WORKER_STALL_SECONDS=str(STALL_SECONDS),
        SO1_HEALTH_PROBE_SECONDS="10",
        SO1_LOG_LEVEL="warning",
        SO1_OUTBOUND_ALLOW="127.0.0.1/32",
    )
    jobs = Jobs(postgres_url)
    with ExitStack() as stack:
        health_url, health = stack.enter_context(health_server())
        health.delay = SLOW_HEALTH_SECONDS
        container = set_up(postgres_url, health_url)
        stack.callback(container.close)
        # Each `so1 worker` registers a procrastinate worker per job, and one for recovery.
        first = stack.enter_context(worker(tmp_path, env, "first"))
        wait_for(lambda: len(jobs.workers()) == PER_PROCESS, "the first worker")
        first_ids = set(jobs.workers())
        second = stack.enter_context(worker(tmp_path, env, "second"))
        wait_for(lambda: len(jobs.workers()) == 2 * PER_PROCESS, "the second worker")
        procs = {w: first if w in first_ids else second for w in jobs.workers()}

        # a clocks pass in the middle of its health probe
        asked = health.requests
        running = wait_for(
            lambda: health.requests > asked and jobs.clocks_pass_of(), "a clocks pass"
        )
        victim = procs[running]
        survivor = second if victim is first else first
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(timeout=10)

        incident_id = declare_ten_minutes_ago(container)
        wait_for(lambda: jobs.alarms(incident_id), "the first alarm", timeout=60)
        resumed = time.monotonic() - killed_at
        assert resumed <= STALL_SECONDS + 2 * CLOCK_SECONDS, f"resumed after {resumed:.1f} s"
        assert survivor.poll() is None

        wait_for(
            lambda: {a for a, _ in jobs.alarms(incident_id)} >= LATE_CHECKS | {"escalation"},
            lambda: f"every late check and the first escalation step: {jobs.alarms(incident_id)}",
        )
        time.sleep(2 * CLOCK_SECONDS)  # more passes: nothing fires twice
        alarms = jobs.alarms(incident_id)
        late = [d["check"] for d in jobs.timeline(incident_id, "runbook.late")]
        steps = [d["step"] for d in jobs.timeline(incident_id, "escalation.step")]
    assert sorted(late) == sorted(a for a, _ in alarms if a != "escalation"), late
    assert len(late) == len(set(late)) and set(late) >= LATE_CHECKS
    assert sorted(steps) == sorted({n for a, n in alarms if a == "escalation"}), steps
    assert len(steps) == len(set(steps)) >= 1
    survivor_log = tmp_path / ("second.log" if victim is first else "first.log")
    assert "failing so1.clocks job" in survivor_log.read_text()
