"""The SQLite writer lock: one write transaction at a time in this process (a thread lock)
and, on a database file, among SO1's processes on it (an advisory ``flock`` on a file beside
the database).

SQLite allows one writer. A writer that finds the database locked waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10 ... up to 100 ms between tries: with two server processes
and the triage process writing one file, most of the time went to those sleeps, and two
`so1 serve` processes took fewer new alerts than one. Waiting on a lock instead hands the
database over within a fraction of a millisecond of its release. Other programs writing the
file still meet SQLite's busy timeout; a process that dies lets go of its ``flock`` at once.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from pathlib import Path

FIRST_POLL_SECONDS = 0.0001
LONGEST_POLL_SECONDS = 0.001
LOCK_SUFFIX = "-so1-write.lock"


class SqliteWriteLock:
    """``acquire(timeout)`` / ``release()`` like ``threading.Lock``; ``database``: the SQLite
    file (None: in memory, this process alone)."""

    def __init__(self, database: str | None) -> None:
        self._thread = threading.Lock()
        self._path = Path(database + LOCK_SUFFIX) if database else None
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._thread.acquire(timeout=timeout):
            return False
        try:
            if self._path is None or self._lock_file(deadline):
                return True
        except BaseException:
            self._thread.release()
            raise
        self._thread.release()
        return False

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def _lock_file(self, deadline: float) -> bool:
        """The file lock, polled (a blocking flock could not give up at ``deadline``)."""
        fd = self._opened()
        pause = FIRST_POLL_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_POLL_SECONDS)

    def _opened(self) -> int:
        """The lock file's descriptor (under the thread lock), opened on first use."""
        if self._fd is not None:
            return self._fd
        assert self._path is not None
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        weakref.finalize(self, os.close, fd)
        self._fd = fd
        return fd
