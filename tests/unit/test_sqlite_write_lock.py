"""The SQLite writer lock is shared by every SO1 process on one database file (an advisory
lock on a file beside it), and still gives up after its timeout."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from so1.adapters.db.write_lock import LOCK_SUFFIX, SqliteWriteLock

HOLD_IN_ANOTHER_PROCESS = """
import sys, time
from so1.adapters.db.write_lock import SqliteWriteLock
lock = SqliteWriteLock(sys.argv[1])
assert lock.acquire(5)
print("held", flush=True)
sys.stdin.readline()
lock.release()
"""


def test_another_process_holding_the_lock_keeps_this_one_waiting(tmp_path: Path) -> None:
    database = str(tmp_path / "so1.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_ANOTHER_PROCESS, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = SqliteWriteLock(database)
        assert not lock.acquire(0.05)
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert lock.acquire(5)
        lock.release()
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / f"so1.db{LOCK_SUFFIX}").exists()


def test_the_lock_is_handed_over_soon_after_its_release(tmp_path: Path) -> None:
    database = str(tmp_path / "so1.db")
    first, second = SqliteWriteLock(database), SqliteWriteLock(database)
    assert first.acquire(1)
    waited: list[float] = []

    def wait_for_it() -> None:
        began = time.monotonic()
        assert second.acquire(5)
        waited.append(time.monotonic() - began)
        second.release()

    thread = threading.Thread(target=wait_for_it)
    thread.start()
    time.sleep(0.2)
    first.release()
    thread.join(5)
    assert waited and 0.2 <= waited[0] < 1.0


def test_in_memory_only_this_process_counts(tmp_path: Path) -> None:
    lock = SqliteWriteLock(None)
    assert lock.acquire(1)
    assert not lock.acquire(0.01)  # the thread lock: one writer in the process
    lock.release()
    assert lock.acquire(0.01)
    lock.release()
    assert list(tmp_path.iterdir()) == []


def test_engines_on_one_file_share_it_and_memory_keeps_its_own(tmp_path: Path) -> None:
    from so1.adapters.db.engine import build_engine, sqlite_write_lock

    url = f"sqlite:///{tmp_path / 'so1.db'}"
    first, second = build_engine(url), build_engine(url)
    held, waiting = sqlite_write_lock(first), sqlite_write_lock(second)
    assert held is not None and waiting is not None and held is not waiting
    assert held.acquire(1)
    assert not waiting.acquire(0.05)  # as another process's engine would be
    held.release()
    assert waiting.acquire(1)
    waiting.release()
    memory = sqlite_write_lock(build_engine("sqlite://"))
    assert memory is not None and memory.acquire(0.05)
    memory.release()
    for engine in (first, second):
        engine.dispose()
