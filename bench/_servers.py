"""The servers bench/ingest.py measures, each started fresh on a free loopback port:

- the do-nothing FastAPI baseline (bench/ingest_loadgen.py's `baseline`, one uvicorn worker);
- `so1 serve` with its defaults (its triage child process, `so1 worker --wake-from-stdin`,
  included, on SQLite and PostgreSQL alike), and on SQLite `so1 serve --workers N` when asked
  (N server processes, one triage process);
- the one-machine PostgreSQL topology of docs/scaling.md: `so1 serve --workers 2` with
  `SO1_BACKGROUND=worker`, and one `so1 worker`.

A `Running` knows its processes, so CPU and RSS are read from /proc over every process tree
it started (children included); PostgreSQL's own processes are not counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import api
from bench.ingest_loadgen import free_port, wait_until_up, write_key

ROOT = Path(__file__).resolve().parents[1]
SO1 = [sys.executable, "-m", "so1"]
STOP_TIMEOUT = 15.0


@dataclass
class Running:
    """A started setup: base URL, API key, root pids, and the database it writes to."""

    name: str
    base_url: str
    token: str | None
    pids: list[int]
    database_url: str | None
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def alerts_url(self) -> str:
        return f"{self.base_url}/v1/alerts"

    def members(self) -> list[int]:
        return [member for pid in self.pids for member in api.process_tree(pid)]

    def cpu_seconds(self) -> float:
        """utime + stime of every live process of the setup (children included)."""
        return sum(api.cpu_seconds(pid) or 0.0 for pid in self.pids)

    def rss_mb(self) -> float:
        return sum(rss_mb(pid) for pid in self.members())

    def sample_rss(self, every: float = 0.5) -> None:
        """Keep `peak_rss_mb` up to date in a daemon thread until `stop_sampling`."""

        def sample() -> None:
            while not self._stop.wait(every):
                self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())

        threading.Thread(target=sample, daemon=True).start()

    def stop_sampling(self) -> None:
        self._stop.set()


def rss_mb(pid: int) -> float:
    """Resident set of one process in MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def so1_env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any SO1_ setting, then the database and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SO1_")}
    env["SO1_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


@contextmanager
def started(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` (output to `log`); stop it and every process it started afterwards."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        tree = api.process_tree(process.pid)
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid in tree[1:]:  # children left behind by a hard stop
            try:
                os.kill(pid, 9)
            except OSError:
                continue


@contextmanager
def baseline(log: Path) -> Iterator[Running]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.ingest_loadgen:baseline"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = f"http://127.0.0.1:{port}"
    with started(command, env, log) as process:
        wait_until_up(f"{url}/docs", process)
        yield Running("baseline", url, None, [process.pid], None)


@contextmanager
def so1_serve(
    database_url: str, log: Path, workers: int = 1, *, topology: bool = False
) -> Iterator[Running]:
    """`so1 serve --workers N` with its defaults; `topology`: the documented PostgreSQL
    one-machine topology (the servers with SO1_BACKGROUND=worker, and one `so1 worker`)."""
    extra = {"SO1_BACKGROUND": "worker"} if topology else {}
    env = so1_env(database_url, extra)
    token = write_key(env)  # migrates, then an API key with the write scope
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*SO1, "serve", "--port", str(port), "--workers", str(workers)]
    with ExitStack() as stack:
        processes = [stack.enter_context(started(command, env, log))]
        if topology:
            processes.append(stack.enter_context(started([*SO1, "worker"], env, log)))
        wait_until_up(f"{url}/v1/health", processes[0])
        name = "one-machine topology" if topology else f"so1 serve --workers {workers}"
        yield Running(name, url, token, [p.pid for p in processes], database_url)
