"""Jobs in a child process that this server starts and supervises (default `so1 serve`: the
triage job), so the work does not share the server's interpreter with intake.

The child is `so1 worker --wake-from-stdin` on the same database: the database is the queue,
as for any worker, and the pipe to its stdin carries only wake-ups (one job name per line,
written without blocking; a full pipe already holds a wake-up). When the child exits it is
started again after a pause that doubles up to 30 s; when this server exits, its end of the
pipe closes and the child stops on its own, even after a SIGKILL of the server."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from so1.ports import JobRunner, JobState

log = logging.getLogger("so1.worker")

FIRST_RESTART_PAUSE = 1.0
LONGEST_RESTART_PAUSE = 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long restarts after the first pause again
STOP_TIMEOUT = 10.0


class ChildProcessJobs:
    """A JobRunner for ``names``, run by one supervised child process."""

    def __init__(
        self, names: Sequence[str], command: Sequence[str], env: Mapping[str, str]
    ) -> None:
        self.names = list(names)
        self._command, self._env = list(command), dict(env)
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._restarts = 0
        self._last_exit: str | None = None
        self._started_at: datetime | None = None

    def start(self) -> None:
        if self._supervisor is None:
            self._spawn()
            self._supervisor = threading.Thread(
                target=self._supervise, name="so1-child-supervisor", daemon=True
            )
            self._supervisor.start()

    def wake(self, name: str) -> None:
        process = self._process
        if name not in self.names or process is None or process.stdin is None:
            return
        # A full pipe holds a wake-up already; a dead child is being restarted.
        with contextlib.suppress(OSError, ValueError):
            os.write(process.stdin.fileno(), f"{name}\n".encode())

    def states(self) -> list[JobState]:
        process = self._process
        alive = process is not None and process.poll() is None
        error = None
        if self._restarts:
            error = f"the child process was restarted {self._restarts} time(s); {self._last_exit}"
        return [
            JobState(
                name,
                alive,
                last_started_at=self._started_at,
                last_error=error,
            )
            for name in self.names
        ]

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None:
            _close_input(process)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(STOP_TIMEOUT)
        if self._supervisor is not None:
            self._supervisor.join(STOP_TIMEOUT)
            self._supervisor = None

    def _spawn(self) -> None:
        process = subprocess.Popen(  # noqa: S603 - our own `so1 worker`, no shell
            self._command, stdin=subprocess.PIPE, env=self._env, close_fds=True
        )
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)
        self._process, self._started_at = process, datetime.now(UTC)

    def _supervise(self) -> None:
        pause = FIRST_RESTART_PAUSE
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            began = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            _close_input(process)
            pause = FIRST_RESTART_PAUSE if time.monotonic() - began >= HEALTHY_AFTER else pause
            self._restarts += 1
            self._last_exit = f"it last exited with code {code}"
            log.warning(
                "%s process exited with code %s; starting it again in %.0f s",
                "+".join(self.names),
                code,
                pause,
            )
            if self._stopping.wait(pause):
                return
            self._spawn()
            pause = min(pause * 2, LONGEST_RESTART_PAUSE)


def _close_input(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


class JobRunnerGroup:
    """Several runners as one: each job's wake-ups go to the runner that runs it."""

    def __init__(self, runners: Mapping[str, JobRunner]) -> None:
        self._by_job = dict(runners)
        self._runners = list({id(r): r for r in runners.values()}.values())

    def start(self) -> None:
        for runner in self._runners:
            runner.start()

    def wake(self, name: str) -> None:
        runner = self._by_job.get(name)
        if runner is not None:
            runner.wake(name)

    def states(self) -> list[JobState]:
        return [state for runner in self._runners for state in runner.states()]

    def stop(self) -> None:
        for runner in self._runners:
            runner.stop()


def wake_from_lines(lines: BinaryIO, wake: Callable[[str], None], stop: threading.Event) -> None:
    """The child's end of the pipe: wake the job each line names, in a thread; at the end of
    input (the server is gone) set ``stop``."""

    def read() -> None:
        for line in lines:
            wake(line.decode(errors="replace").strip())
        stop.set()

    threading.Thread(target=read, name="so1-wake-reader", daemon=True).start()
