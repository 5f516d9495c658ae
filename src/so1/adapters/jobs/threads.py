"""The in-process JobRunner: one daemon thread per Job, woken on new work or by its period
(in each server, or in `so1 worker` on SQLite)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from so1.adapters.jobs.passes import PassLog
from so1.ports import Job, JobState

log = logging.getLogger("so1.worker")


class LoopWorker:
    """A daemon thread that runs one job when woken, or every ``job.every_seconds``."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = PassLog(job.name)

    def start(self) -> None:
        if self._thread is None:
            name = f"so1-{self.job.name}"
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

    def state(self) -> JobState:
        thread = self._thread
        return self.passes.state(alive=thread is not None and thread.is_alive())


class ThreadJobRunner:
    """The in-process runner: one thread per job in this process."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self._loops = {job.name: LoopWorker(job) for job in jobs}

    @property
    def names(self) -> list[str]:
        return list(self._loops)

    def start(self) -> None:
        for loop in self._loops.values():
            loop.start()

    def wake(self, name: str) -> None:
        loop = self._loops.get(name)
        if loop is not None:
            loop.wake()

    def stop(self) -> None:
        for loop in self._loops.values():
            loop.stop()

    def states(self) -> list[JobState]:
        return [loop.state() for loop in self._loops.values()]
