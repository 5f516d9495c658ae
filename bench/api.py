"""HTTP benchmark of a real SO1 server: a do-nothing route against incident GET and PATCH.

Run from the project root (--timeout caps the whole run, default 900 s):

    .venv/bin/python bench/api.py [--backend sqlite|postgres|both] [--requests N] [--concurrency N]

Per backend it starts `bench/api.py --serve` (the real app plus `GET /bench/noop`, one uvicorn
worker on a free loopback port) and drives it from this process with one httpx.Client thread
per concurrent request: a warm-up, then N requests per endpoint. SQLite uses a temp file;
PostgreSQL a fresh `so1_bench_<random>` database on SO1_TEST_POSTGRES_URL (default: the local
server), dropped at the end. Prints a table per backend; writes bench/results/api-<ts>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from so1.adapters.db import migrate
from so1.agents.triage import TriageAgent
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from so1.ports import Agent
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor

LOOPBACK = "127.0.0.1"
LOOPBACK_HOSTS = {None, "127.0.0.1", "localhost", "::1"}
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
URL_ENV = "BENCH_DATABASE_URL"
WORKERS_ENV = "BENCH_SERVER_WORKERS"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = 10.0
WARMUP_MAX = 200


def noop() -> dict[str, str]:
    """Baseline: sync like the real routes, so it pays the same threadpool hop."""
    return {}


def serve(
    agents: Mapping[str, Agent] | None = None,
    setup: Callable[[FastAPI], None] | None = None,
    triage: TriageAgent | None = None,
) -> None:
    """The server side: real app + baseline route(s); prints port and admin key, then runs."""
    if "BENCH_SWITCH" in os.environ:
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH"]))
    container = build_container(
        Settings(database_url=os.environ[URL_ENV]), agents=agents, triage=triage
    )
    migrate.upgrade(container.engine)
    app = create_app(container)
    app.add_api_route("/bench/noop", noop, methods=["GET"])
    if setup is not None:
        setup(app)
    issued = access.create_key(
        container.uow, container.clock, Actor("bench"), "bench", frozenset({Scope.ADMIN})
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    if workers > 1:  # like `so1 serve --workers N`: processes sharing one listening socket
        container.close()
        sock.listen(2048)
        _serve_forked(workers, sock, issued.token, agents, setup, triage)
        return
    print(json.dumps({"port": sock.getsockname()[1], "key": issued.token}), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _serve_forked(
    workers: int,
    sock: socket.socket,
    token: str,
    agents: Mapping[str, Agent] | None,
    setup: Callable[[FastAPI], None] | None,
    triage: TriageAgent | None,
) -> None:
    """Fork `workers` children, each with its own container (engine, writer, triage worker)."""
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            container = build_container(
                Settings(database_url=os.environ[URL_ENV]), agents=agents, triage=triage
            )
            app = create_app(container)
            app.add_api_route("/bench/noop", noop, methods=["GET"])
            if setup is not None:
                setup(app)
            config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
            uvicorn.Server(config).run(sockets=[sock])
            os._exit(0)
        children.append(pid)
    print(json.dumps({"port": sock.getsockname()[1], "key": token}), flush=True)

    def stop_children(*_: object) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_children)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except InterruptedError:
                continue


@dataclass
class Server:
    pid: int
    base_url: str
    key: str


@dataclass
class Result:
    endpoint: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_pct: float | None
    client_cpu_pct: float
    rps_ratio: float = 1.0
    p50_ratio: float = 1.0


def _ready_line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(READY_TIMEOUT):
            raise RuntimeError(f"server not ready after {READY_TIMEOUT:.0f}s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"server exited early (code {proc.wait(timeout=10)})")
    return dict(json.loads(line))


@contextmanager
def running_server(
    database_url: str, script: Path | None = None, stderr: IO[str] | None = None
) -> Iterator[Server]:
    """Run `<script> --serve` (default this file) and yield it once it listens."""
    env = {**os.environ, URL_ENV: database_url}
    cmd = [sys.executable, str(script or Path(__file__).resolve()), "--serve"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        info = _ready_line(proc)
        yield Server(proc.pid, f"http://{LOOPBACK}:{info['port']}", info["key"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc; just the process elsewhere)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = Path(f"/proc/{current}/task").iterdir()
            todo += [int(c) for t in tasks for c in (t / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process and its children (Linux /proc), None elsewhere."""
    total = None
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total = (total or 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(done: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values (NaN when there are none)."""
    return done[max(0, math.ceil(pct / 100 * len(done)) - 1)] if done else float("nan")


class Load:
    """`count` requests of one endpoint spread over one thread per client."""

    def __init__(self, method: str, path: str, count: int, offset: int = 0) -> None:
        self.method, self.path, self.count, self.offset = method, path, count, offset
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.issued = self.errors = 0

    def _next(self) -> int | None:
        with self.lock:
            n, self.issued = self.issued, min(self.issued + 1, self.count)
        return n if n < self.count else None

    def _one(self, client: httpx.Client, n: int) -> None:
        body = {"summary": f"bench {self.offset + n}"} if self.method == "PATCH" else None
        start = time.perf_counter()
        try:
            ok = client.request(self.method, self.path, json=body).status_code == 200
        except httpx.HTTPError:
            ok = False
        elapsed = time.perf_counter() - start
        with self.lock:
            self.errors += not ok
            if ok:
                self.latencies.append(elapsed)

    def _worker(self, client: httpx.Client, deadline: float) -> None:
        while time.monotonic() < deadline and (n := self._next()) is not None:
            self._one(client, n)

    def run(self, clients: list[httpx.Client], deadline: float) -> float:
        threads = [threading.Thread(target=self._worker, args=(c, deadline)) for c in clients]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 5)
        return time.perf_counter() - start


def measure(
    server: Server, clients: list[httpx.Client], label: str, path: str, count: int, deadline: float
) -> Result:
    method = label.split(" ", 1)[0]
    Load(method, path, min(WARMUP_MAX, max(1, count // 10)), offset=count).run(clients, deadline)
    load = Load(method, path, count)
    server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
    seconds = load.run(clients, deadline)
    client_cpu = time.process_time() - client_cpu
    after = cpu_seconds(server.pid)
    server_cpu = None if server_cpu is None or after is None else after - server_cpu
    done = sorted(load.latencies)
    return Result(
        endpoint=label,
        requests=load.issued,
        seconds=round(seconds, 3),
        rps=round(load.issued / seconds, 1),
        p50_ms=round(percentile(done, 50) * 1000, 2),
        p99_ms=round(percentile(done, 99) * 1000, 2),
        errors=load.errors + (count - load.issued),
        server_cpu_pct=None if server_cpu is None else round(100 * server_cpu / seconds, 1),
        client_cpu_pct=round(100 * client_cpu / seconds, 1),
    )


def bench_backend(database_url: str, args: argparse.Namespace, deadline: float) -> list[Result]:
    with running_server(database_url) as server, ExitStack() as stack:
        headers = {"Authorization": f"Bearer {server.key}"}
        clients = [
            stack.enter_context(
                httpx.Client(base_url=server.base_url, headers=headers, timeout=REQUEST_TIMEOUT)
            )
            for _ in range(args.concurrency)
        ]
        created = clients[0].post("/v1/incidents", json={"title": "bench", "severity": "SEV2"})
        incident = f"/v1/incidents/{created.raise_for_status().json()['id']}"
        paths = {"GET /bench/noop": "/bench/noop", "GET /v1/incidents/{id}": incident}
        paths["PATCH /v1/incidents/{id}"] = incident
        results = [measure(server, clients, *e, args.requests, deadline) for e in paths.items()]
    base = results[0]
    for result in results:
        result.rps_ratio = round(result.rps / base.rps, 3) if base.rps else float("nan")
        result.p50_ratio = round(result.p50_ms / base.p50_ms, 2) if base.p50_ms else float("nan")
    return results


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="so1-bench-") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextmanager
def postgres_database() -> Iterator[str]:
    admin_url = make_url(os.environ.get("SO1_TEST_POSTGRES_URL", DEFAULT_PG))
    if admin_url.host not in LOOPBACK_HOSTS:
        raise SystemExit(f"refusing non-loopback PostgreSQL host {admin_url.host!r}")
    name = f"so1_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def print_table(backend: str, results: list[Result]) -> None:
    print(f"\n{backend}")
    head = f"{'endpoint':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(head + f"{'srv CPU%':>9}{'cli CPU%':>9}{'rps/base':>9}{'p50/base':>9}")
    for r in results:
        cpu = "n/a" if r.server_cpu_pct is None else f"{r.server_cpu_pct:.0f}"
        print(
            f"{r.endpoint:<26}{r.rps:>9.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
            f"{cpu:>9}{r.client_cpu_pct:>9.0f}{r.rps_ratio:>9.3f}{r.p50_ratio:>9.2f}"
        )


def save(report: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"api-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--timeout", type=float, default=900.0, help="whole run, seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests < 1 or not 1 <= args.concurrency <= 256:
        parser.error("--requests must be >= 1 and --concurrency 1..256")
    return args


def main() -> None:
    args = parse_args()
    if args.serve:
        serve()
        return
    deadline = time.monotonic() + args.timeout
    databases = {"sqlite": sqlite_database, "postgres": postgres_database}
    chosen = list(databases) if args.backend == "both" else [args.backend]
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"requests": args.requests, "concurrency": args.concurrency},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "backends": {},
    }
    for backend in chosen:
        with databases[backend]() as url:
            results = bench_backend(url, args, deadline)
        print_table(
            f"{backend}  (requests {args.requests}, concurrency {args.concurrency})", results
        )
        report["backends"][backend] = [asdict(r) for r in results]
    print(f"\nresults: {save(report)}")


if __name__ == "__main__":
    main()
