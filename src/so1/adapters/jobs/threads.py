"""The in-process JobRunner: daemon threads per Job (``job.concurrency`` of them, one for a
serial job), woken on new work or by its period (in each server, or in `so1 worker` on
SQLite). Each job has threads of its own, so a slow kind never takes another's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from so1.adapters.jobs.passes import PassLog
from so1.ports import Job, JobState

log = logging.getLogger("so1.worker")


class LoopWorker:
    """A daemon thread that runs one job when woken, or every ``job.every_seconds``."""

    def __init__(self, job: Job, passes: PassLog, number: int = 1) -> None:
        self.job, self.number = job, number
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = passes

    def start(self) -> None:
        if self._thread is None:
            name = f"so1-{self.job.name}-{self.number}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.job.every_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.passes.started()
            try:
                self.job.run()
            except Exception as exc:
                log.exception("%s pass failed; retrying", self.job.name)
                self.passes.finished(exc)
            else:
                self.passes.finished()

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()


def _threads_of(job: Job) -> list[LoopWorker]:
    """A job's threads: ``job.concurrency`` of them (one when serial), sharing one PassLog."""
    passes = PassLog(job.name)
    count = 1 if job.serial else max(job.concurrency, 1)
    return [LoopWorker(job, passes, number) for number in range(1, count + 1)]


class ThreadJobRunner:
    """The in-process runner: each job's own threads in this process."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self._loops = {job.name: _threads_of(job) for job in jobs}

    @property
    def names(self) -> list[str]:
        return list(self._loops)

    def start(self) -> None:
        for loop in self._every_loop():
            loop.start()

    def wake(self, name: str) -> None:
        for loop in self._loops.get(name, []):
            loop.wake()

    def stop(self) -> None:
        for loop in self._every_loop():
            loop.stop()

    def states(self) -> list[JobState]:
        return [
            loops[0].passes.state(alive=all(loop.alive for loop in loops))
            for loops in self._loops.values()
        ]

    def _every_loop(self) -> list[LoopWorker]:
        return [loop for loops in self._loops.values() for loop in loops]
