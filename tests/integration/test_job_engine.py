"""procrastinate as the job engine on PostgreSQL: wake-ups coalesce into one waiting job,
workers run woken and periodic jobs, and a serial job never runs twice at once even with
two workers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from procrastinate import PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import create_engine, text

from so1.adapters.jobs.procrastinate_runner import (
    ProcrastinateJobRunner,
    libpq_url,
    tick_cron,
)
from so1.ports import Job

pytestmark = pytest.mark.postgres

WAIT = 20.0


@pytest.fixture
def pg(postgres_url: str) -> str:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers CASCADE"))
    engine.dispose()
    return postgres_url


def waiting_jobs(url: str, task: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status='todo'"
            return int(conn.execute(text(query), {"t": task}).scalar_one())
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@contextmanager
def running(*runners: ProcrastinateJobRunner) -> Iterator[None]:
    for runner in runners:
        runner.start()
    try:
        yield
    finally:
        for runner in runners:
            runner.stop()


def test_urls_and_ticks() -> None:
    assert libpq_url("postgresql+psycopg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        libpq_url("sqlite:///x.db")
    assert tick_cron(1) == "* * * * * */5"
    assert tick_cron(15) == "* * * * * */15"
    assert tick_cron(120) == "*/2 * * * *"
    assert tick_cron(7200) == "0 */2 * * *"


def test_a_burst_of_wakeups_leaves_one_waiting_job(pg: str) -> None:
    deferrer = ProcrastinateJobRunner(pg, [Job("triage", lambda: None, 1)], execute=False)
    with running(deferrer):
        for _ in range(25):
            deferrer.wake("triage")
        deferrer.wake("unknown")  # not a job here: ignored
        wait_for(lambda: waiting_jobs(pg, "so1.triage") >= 1, "a deferred triage job")
        time.sleep(0.3)  # any later defer would have landed by now
        assert waiting_jobs(pg, "so1.triage") == 1


def test_a_worker_runs_woken_jobs_and_periodic_ticks(pg: str) -> None:
    woken, ticked = threading.Event(), threading.Event()
    jobs = [Job("woken", woken.set, 3600), Job("ticked", ticked.set, 5)]
    worker = ProcrastinateJobRunner(pg, jobs, execute=True)
    deferrer = ProcrastinateJobRunner(pg, jobs, execute=False)
    with running(worker, deferrer):
        deferrer.wake("woken")  # another process (an API server) commits work
        assert woken.wait(WAIT), "the woken job never ran"
        assert ticked.wait(WAIT), "the periodic tick never ran"
    assert waiting_jobs(pg, "so1.woken") == 0


def listening_flag(
    worker: ProcrastinateJobRunner, monkeypatch: pytest.MonkeyPatch, *, delay: float = 0.0
) -> threading.Event:
    """Set once the worker's LISTEN holds; with ``delay``, LISTEN takes that long to start."""
    listening, connector = threading.Event(), worker.app.connector
    assert isinstance(connector, PsycopgConnector)
    loop_notify, listen_notify = connector._loop_notify, connector.listen_notify

    async def notify_loop(*args: Any, **kwargs: Any) -> None:
        listening.set()
        await loop_notify(*args, **kwargs)

    async def slow_listen(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(delay)
        await listen_notify(*args, **kwargs)

    monkeypatch.setattr(connector, "_loop_notify", notify_loop)
    monkeypatch.setattr(connector, "listen_notify", slow_listen)
    return listening


async def queue_a_pass(worker: ProcrastinateJobRunner) -> None:
    """What another process does: queue a triage pass. In the first minutes after an hour,
    procrastinate defers the hourly tick it has just passed (the job's period is 3600 s), and
    the queueing lock refuses a second pass: one waits either way, as the servers' own
    defers assume."""
    with contextlib.suppress(AlreadyEnqueued):
        await worker._tasks["triage"].defer_async()


def triage_after(queued_at: list[float], ran: threading.Event) -> Job:
    """An hourly triage job that counts only the runs after the test queued its pass: in the
    first minutes after an hour, procrastinate defers the tick just passed when the worker
    starts, and that run is not the one the test waits for."""

    def run() -> None:
        if queued_at[0]:
            ran.set()

    return Job("triage", run, 3600)


def test_a_job_queued_while_the_worker_finds_none_runs_at_once(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy API server queues a pass just as the worker's fetch comes back empty: the
    notification lands during that fetch. It must not be lost (procrastinate clears its
    new-job flag after each fetch), or the pass waits for the 5 s poll, and so does every
    alert behind it: its queueing lock refuses the next defers, which notify no one."""
    ran, queued_at = threading.Event(), [0.0]
    worker = ProcrastinateJobRunner(pg, [triage_after(queued_at, ran)], execute=True)
    listening = listening_flag(worker, monkeypatch)
    manager = worker.app.job_manager
    fetch = manager.fetch_job

    async def fetch_while_a_pass_is_queued(*args: Any, **kwargs: Any) -> Any:
        found = await fetch(*args, **kwargs)
        if found is None and listening.is_set() and not queued_at[0]:
            queued_at[0] = time.monotonic()  # once: another process defers a pass now
            await queue_a_pass(worker)
            await asyncio.sleep(0.5)  # its NOTIFY reaches the worker before the fetch returns
        return found

    monkeypatch.setattr(manager, "fetch_job", fetch_while_a_pass_is_queued)
    with running(worker):
        assert ran.wait(WAIT), "the queued pass never ran"
        waited = time.monotonic() - queued_at[0]
    assert waited < 2.0, f"the pass queued during an empty fetch waited {waited:.1f} s"


def test_a_job_queued_before_the_worker_listens_runs_once_it_does(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass queued after the worker's first fetch but before its LISTEN holds was
    announced to no one; the worker fetches again as soon as it listens."""
    ran, queued_at = threading.Event(), [0.0]
    worker = ProcrastinateJobRunner(pg, [triage_after(queued_at, ran)], execute=True)
    listening = listening_flag(worker, monkeypatch, delay=1.0)
    manager = worker.app.job_manager
    fetch = manager.fetch_job

    async def queue_a_pass_after_the_first_fetch(*args: Any, **kwargs: Any) -> Any:
        found = await fetch(*args, **kwargs)
        if found is None and not queued_at[0]:
            assert not listening.is_set(), "the worker listened before its first fetch"
            queued_at[0] = time.monotonic()
            await queue_a_pass(worker)  # NOTIFY with no one listening
        return found

    monkeypatch.setattr(manager, "fetch_job", queue_a_pass_after_the_first_fetch)
    with running(worker):
        assert ran.wait(WAIT), "the queued pass never ran"
        waited = time.monotonic() - queued_at[0]
    assert waited < 3.0, f"the pass queued before LISTEN held waited {waited:.1f} s"


def test_a_serial_job_never_overlaps_across_two_workers(pg: str) -> None:
    guard = threading.Lock()
    active, peak, runs = [0], [0], [0]

    def slow_pass() -> None:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with guard:
            active[0] -= 1
            runs[0] += 1

    jobs = [Job("clocks", slow_pass, 3600, serial=True)]
    one = ProcrastinateJobRunner(pg, jobs, execute=True, worker_name="one")
    two = ProcrastinateJobRunner(pg, jobs, execute=True, worker_name="two")

    def woken_three_times() -> bool:
        one.wake("clocks")  # both workers keep asking for passes while one runs
        two.wake("clocks")
        return runs[0] >= 3

    with running(one, two):
        wait_for(woken_three_times, "three serial passes")
    assert peak[0] == 1


def _left_by_a_dead_worker(url: str, *tasks: str) -> list[int]:
    """A worker whose heartbeat stopped an hour ago, holding a pass of each task in 'doing'
    (its lock taken), and the next pass of each already waiting behind it (the queueing
    lock's one slot), as a SIGKILL in the middle of a pass leaves them."""
    engine = create_engine(url)
    insert_job = text(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, status,"
        " worker_id) VALUES ('default', :t, :lock, :lock, CAST(:s AS procrastinate_job_status), :w)"
        " RETURNING id"
    )
    try:
        with engine.begin() as conn:
            dead = conn.execute(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat)"
                    " VALUES (now() - interval '1 hour') RETURNING id"
                )
            ).scalar_one()
            stalled = [
                int(
                    conn.execute(
                        insert_job, {"t": t, "lock": t, "s": "doing", "w": dead}
                    ).scalar_one()
                )
                for t in tasks
            ]
            for task in tasks:
                conn.execute(insert_job, {"t": task, "lock": task, "s": "todo", "w": None})
        return stalled
    finally:
        engine.dispose()


def job_status(url: str, job_id: int) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT status FROM procrastinate_jobs WHERE id = :i")
            return str(conn.execute(query, {"i": job_id}).scalar_one())
    finally:
        engine.dispose()


def test_passes_left_by_a_dead_worker_are_failed_and_run_again_each_on_its_own(pg: str) -> None:
    """The stalled pass keeps the lock and a newer one waits; putting the stalled one back
    in the queue would collide with the waiting one. Recovery fails it instead, queues a
    fresh pass (which runs at once), and one job it cannot recover does not stop the rest."""
    clocks_ran, triage_ran = threading.Event(), threading.Event()
    jobs = [Job("clocks", clocks_ran.set, 3600, serial=True), Job("triage", triage_ran.set, 3600)]
    unrecoverable, clocks, triage = _left_by_a_dead_worker(
        pg, "so1.delivery", "so1.clocks", "so1.triage"
    )
    worker = ProcrastinateJobRunner(pg, jobs, execute=True, stall_seconds=3)
    recover = worker._recover

    async def failing_on_the_first(job: Any) -> None:
        if job.id == unrecoverable:
            raise RuntimeError("cannot recover this one")
        await recover(job)

    worker._recover = failing_on_the_first  # type: ignore[method-assign]
    with running(worker):
        assert clocks_ran.wait(WAIT), "the clocks never ran again"
        assert triage_ran.wait(WAIT), "triage never ran again"
    assert job_status(pg, clocks) == job_status(pg, triage) == "failed"
    assert job_status(pg, unrecoverable) == "doing"
