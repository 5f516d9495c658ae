"""Jobs on procrastinate, the PostgreSQL job engine: several workers on several machines,
periodic tasks deferred once per tick across all of them, LISTEN/NOTIFY wake-ups, and locks.

Each SO1 Job becomes a procrastinate task ``so1.<name>`` with a queueing lock (at most one
waiting job per name: a burst of wake-ups costs one pass, not one per wake-up) and, for
serial jobs, a lock (never two passes at once across the cluster). A periodic tick defers
each task as a safety net; with LISTEN/NOTIFY a woken worker starts at once, so polling more
often than every few seconds buys nothing. A worker killed mid-pass is noticed when its
heartbeat stops; its passes are failed and queued afresh (see _recover).

Each job has a queue of its own (``so1.<name>``) and, in `so1 worker`, a procrastinate worker
of its own on that queue with ``job.concurrency`` slots (and as many threads for its passes),
so passes of one kind can never take the slots of another: a delivery backlog behind a vendor
that hangs leaves triage its own. A last worker, without LISTEN, recovers stalled passes and
defers the periodic ticks for all of them.

One asyncio loop in a daemon thread holds the connection pool (``pool_size`` connections;
each job's worker also holds one LISTEN connection). With ``execute=True`` (`so1 worker`) it
also runs the workers; with ``execute=False`` (API servers with SO1_BACKGROUND=worker) it only
defers jobs when the server commits new work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from procrastinate import (
    App,
    PsycopgConnector,
    connector as procrastinate_connector,
    jobs as procrastinate_jobs,
)
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.worker import Worker
from sqlalchemy.engine import make_url

from so1.adapters.jobs.passes import PassLog
from so1.ports import Job, JobState

log = logging.getLogger("so1.jobs")

MIN_TICK_SECONDS = 5
STALLED_AFTER_SECONDS = 30  # a worker with no heartbeat for this long is gone
HEARTBEATS_PER_STALL = 3  # a live worker beats this often within the stall timeout
RECOVERY_TASK = "so1.retry_stalled"
RECOVERY_QUEUE = "so1.recovery"
STOP_GRACE_SECONDS = 30.0
START_TIMEOUT_SECONDS = 30.0


def libpq_url(database_url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) → ``postgresql://...`` (libpq)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"procrastinate needs PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def tick_cron(every_seconds: int) -> str:
    """A cron line (seconds in the sixth column) firing every ``every_seconds``: at least
    MIN_TICK_SECONDS, rounded down to whole minutes from a minute and whole hours from an
    hour."""
    seconds = max(every_seconds, MIN_TICK_SECONDS)
    if seconds < 60:
        return f"* * * * * */{seconds}"
    if seconds < 3600:
        return f"*/{seconds // 60} * * * *"
    return f"0 */{min(seconds // 3600, 23)} * * *"


def queue_of(job: Job) -> str:
    """The queue of a job's passes: one per job, so each kind has its own worker and slots."""
    return f"so1.{job.name}"


LISTENING_CHANNEL = "so1.listening"
FETCH_AGAIN = json.dumps({"type": "job_inserted"})


class _ListeningConnector(PsycopgConnector):
    """procrastinate's connector, telling each listening worker to fetch once as soon as its
    LISTEN holds (at start, and again after the listen connection is replaced). A job queued
    before that was announced to no one: without this fetch it waited for the next poll."""

    async def _loop_notify(
        self,
        on_notification: procrastinate_connector.Notify,
        connection: psycopg.AsyncConnection,
        timeout: float = procrastinate_connector.LISTEN_TIMEOUT,
    ) -> None:
        await on_notification(channel=LISTENING_CHANNEL, payload=FETCH_AGAIN)
        await super()._loop_notify(
            on_notification=on_notification, connection=connection, timeout=timeout
        )


class _QueueWorker(Worker):
    """A procrastinate worker on some queues; only the one with ``defers_ticks`` defers the
    periodic ticks (one deferrer per process is enough: a tick is deferred once anyway).

    It never loses a wake-up: procrastinate clears its new-job flag when each fetch returns,
    so a job queued (and announced) while a fetch found nothing waited for the next poll
    (5 s); and since a waiting pass holds its queueing lock, the defers behind it announce
    nothing either: every alert of those seconds waited with it. This worker counts the
    announcements and fetches again when one arrived during a round of fetches."""

    def __init__(self, app: App, *, defers_ticks: bool = False, **options: Any) -> None:
        super().__init__(app, **options)
        self._defers_ticks = defers_ticks
        self._announced = 0  # job_inserted notifications received so far

    async def _handle_notification(self, *, channel: str, notification: Any) -> None:
        if notification["type"] == "job_inserted":
            self._announced += 1
        await super()._handle_notification(channel=channel, notification=notification)

    async def _fetch_and_process_jobs(self) -> None:
        while True:
            seen = self._announced
            await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
            if self._announced == seen or self._stop_event.is_set():
                return

    async def _periodic_deferrer(self) -> None:
        if self._defers_ticks:
            await super()._periodic_deferrer()  # type: ignore[no-untyped-call]
        else:
            await asyncio.Event().wait()  # until the worker stops and cancels it


async def _run_until_all_stopped(workers: list[Worker]) -> None:
    """Run the workers until cancelled, then wait for every one to unregister itself. A
    gather would end at the first worker's cancellation and close the pool under the others
    (each then logged a traceback on SIGTERM); a task group waits for all of them."""
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run())  # type: ignore[no-untyped-call]


class ProcrastinateJobRunner:
    def __init__(
        self,
        database_url: str,
        jobs: Sequence[Job],
        *,
        execute: bool,
        worker_name: str = "so1-worker",
        stall_seconds: float = STALLED_AFTER_SECONDS,
        pool_size: int = 2,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        connector = _ListeningConnector(
            conninfo=libpq_url(database_url),
            min_size=1,
            max_size=pool_size,
            kwargs=dict(connect_options or {}),
        )
        self.app = App(connector=connector)
        self._execute, self._worker_name = execute, worker_name
        self._jobs = list(jobs)
        self._stall_seconds = stall_seconds
        self._passes = {job.name: PassLog(job.name) for job in jobs}
        self._tasks: dict[str, Any] = {job.name: self._register(job) for job in jobs}
        self._by_task_name = {f"so1.{name}": task for name, task in self._tasks.items()}
        self._register_stalled_recovery()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._main: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._in_flight: set[str] = set()
        self._again: set[str] = set()
        self._deferring: set[asyncio.Future[None]] = set()

    @property
    def names(self) -> list[str]:
        return [job.name for job in self._jobs]

    def _register(self, job: Job) -> Any:
        passes = self._passes[job.name]

        def run_pass(timestamp: int = 0) -> None:  # noqa: ARG001 - the tick's time
            passes.started()
            try:
                job.run()
            except Exception as exc:
                passes.finished(exc)
                raise
            passes.finished()

        task = self.app.task(
            name=f"so1.{job.name}",
            queue=queue_of(job),
            queueing_lock=f"so1.{job.name}",
            lock=f"so1.{job.name}" if job.serial else None,
        )(run_pass)
        return self.app.periodic(cron=tick_cron(job.every_seconds), periodic_id=job.name)(task)

    def _register_stalled_recovery(self) -> None:
        """procrastinate leaves the jobs of a worker that died mid-pass in 'doing', holding
        their lock; once the worker's heartbeat has stopped, recover each (see _recover)."""

        async def recover_stalled(timestamp: int = 0) -> None:  # noqa: ARG001
            manager = self.app.job_manager
            stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self._stall_seconds)
            for job in stalled:  # each on its own: one that fails does not stop the others
                try:
                    await self._recover(job)
                except Exception:
                    log.exception("could not recover job %s left by a stopped worker", job.id)

        task = self.app.task(
            name=RECOVERY_TASK,
            queue=RECOVERY_QUEUE,
            queueing_lock=RECOVERY_TASK,
            lock=RECOVERY_TASK,
        )(recover_stalled)
        self.app.periodic(cron=tick_cron(MIN_TICK_SECONDS), periodic_id="retry_stalled")(task)

    async def _recover(self, job: procrastinate_jobs.Job) -> None:
        """A job without a queueing lock goes back to the queue. One with a queueing lock (every
        SO1 pass) cannot: a newer pass usually waits there already, and the unique index on
        waiting jobs refuses a second; so the stalled one is marked failed (its lock is
        freed) and a fresh pass is queued in place of any waiting one, which wakes a worker."""
        manager = self.app.job_manager
        assert job.id is not None
        if job.queueing_lock is None:
            log.warning("retrying job %s left by a stopped worker", job.id)
            await manager.retry_job(job)
            return
        log.warning(
            "failing %s job %s left by a stopped worker; queueing a new pass", job.task_name, job.id
        )
        await manager.finish_job(job, status=procrastinate_jobs.Status.FAILED, delete_job=False)
        waiting = await manager.list_jobs_async(queueing_lock=job.queueing_lock, status="todo")
        for queued in waiting:
            assert queued.id is not None
            await manager.cancel_job_by_id_async(queued.id, delete_job=True)
        task = self._by_task_name.get(job.task_name)
        if task is not None:
            with contextlib.suppress(AlreadyEnqueued):  # a tick queued one, waking a worker too
                await task.defer_async()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run_loop, name="so1-jobs", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS) or self._failed is not None:
            raise RuntimeError(f"the job engine did not start: {self._failed}")

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._serve())
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # reported to start() or logged
            self._failed = exc
            self._ready.set()
            log.exception("job engine stopped")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        async with self.app.open_async():
            self._ready.set()
            if self._execute:
                passes = sum(job.concurrency for job in self._jobs)
                executor = ThreadPoolExecutor(max(passes, 1), thread_name_prefix="so1-pass")
                asyncio.get_running_loop().set_default_executor(executor)  # a thread a slot
                await self._adopt_waiting_passes()
                await _run_until_all_stopped(self._workers())
            else:
                await asyncio.Event().wait()  # serve defers until cancelled

    async def _adopt_waiting_passes(self) -> None:
        """Passes queued before each job had its own queue (on 'default') move to it: left
        there, no worker would take them and their queueing lock would refuse new ones."""
        for job in self._jobs:
            await self.app.connector.execute_query_async(
                "UPDATE procrastinate_jobs SET queue_name = %(queue)s"
                " WHERE task_name = %(task)s AND status = 'todo' AND queue_name <> %(queue)s",
                queue=queue_of(job),
                task=f"so1.{job.name}",
            )

    def _workers(self) -> list[Worker]:
        """A worker per job on the job's own queue with its own slots, and one (no LISTEN:
        its tasks are periodic) that recovers stalled passes and defers every periodic tick."""
        options: dict[str, Any] = {
            "install_signal_handlers": False,
            "delete_jobs": "successful",
            "shutdown_graceful_timeout": STOP_GRACE_SECONDS,
            "stalled_worker_timeout": self._stall_seconds,
            "update_heartbeat_interval": self._stall_seconds / HEARTBEATS_PER_STALL,
        }
        workers: list[Worker] = [
            _QueueWorker(
                self.app,
                queues=[queue_of(job)],
                name=f"{self._worker_name}-{job.name}",
                concurrency=1 if job.serial else max(job.concurrency, 1),
                **options,
            )
            for job in self._jobs
        ]
        recovery = _QueueWorker(
            self.app,
            defers_ticks=True,
            queues=[RECOVERY_QUEUE],
            name=f"{self._worker_name}-recovery",
            listen_notify=False,
            fetch_job_polling_interval=1.0,
            **options,
        )
        return [*workers, recovery]

    def stop(self) -> None:
        loop, main, thread = self._loop, self._main, self._thread
        if loop is None or main is None or thread is None:
            return
        loop.call_soon_threadsafe(main.cancel)
        thread.join(STOP_GRACE_SECONDS + 5)
        self._thread = self._loop = self._main = None

    def states(self) -> list[JobState]:
        """The jobs this process executes: none when it only defers them (API servers with
        SO1_BACKGROUND=worker), each with its passes in `so1 worker`."""
        if not self._execute:
            return []
        thread = self._thread
        alive = thread is not None and thread.is_alive() and self._failed is None
        return [self._passes[job.name].state(alive) for job in self._jobs]

    # --- wake-ups -----------------------------------------------------------------------------

    def wake(self, name: str) -> None:
        loop = self._loop
        if loop is None or name not in self._tasks:
            return
        loop.call_soon_threadsafe(self._defer_soon, name)

    def _defer_soon(self, name: str) -> None:
        """On the loop: one defer in flight per job; wake-ups meanwhile cost one more."""
        if name in self._in_flight:
            self._again.add(name)
            return
        self._in_flight.add(name)
        pending = asyncio.ensure_future(self._defer(name))
        self._deferring.add(pending)
        pending.add_done_callback(self._deferring.discard)

    async def _defer(self, name: str) -> None:
        try:
            await self._tasks[name].defer_async()
        except AlreadyEnqueued:
            pass  # a pass is already waiting; it will see the new work
        except Exception:
            log.exception("could not queue a %s pass; the periodic tick will run it", name)
        finally:
            self._in_flight.discard(name)
            if name in self._again:
                self._again.discard(name)
                self._defer_soon(name)
