"""A PostgreSQL footprint that fits: a process never opens more than SO1_DB_POOL_SIZE
connections, names them with that budget, and `so1 serve` / `so1 worker` warn in one line at
start when they would not fit max_connections beside the other SO1 processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from so1.adapters.db.capacity import Room
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from tests.conftest import _truncate_postgres, make_key
from tests.e2e.intake_support import SEED_ALERT
from tests.e2e.test_processes import clean_env, serving

pytestmark = pytest.mark.postgres

POOL = 3
REQUESTS = 120


def _connections_named(url: str, name: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n")
            return int(conn.execute(query, {"n": name}).scalar_one())
    finally:
        engine.dispose()


def test_a_busy_server_never_opens_more_than_its_pool(postgres_url: str) -> None:
    _truncate_postgres(postgres_url)
    container = build_container(
        Settings(database_url=postgres_url, db_pool_size=POOL, auth_cache_seconds=0)
    )
    name = container.jobs.connect_options["application_name"]
    assert re.fullmatch(rf"so1 serve \S+:\d+ pool={POOL}", name)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _connections_named(postgres_url, name))
            time.sleep(0.02)

    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {make_key(container, Scope.ADMIN)}"

            def one(n: int) -> int:
                if n % 2:
                    return client.get("/v1/incidents").status_code
                body = {**SEED_ALERT, "service": f"svc-{n % 7}", "dedup_key": f"busy-{n}"}
                return client.post("/v1/alerts", json=body).status_code

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            with ThreadPoolExecutor(24) as pool:
                statuses = list(pool.map(one, range(REQUESTS)))
            stop.set()
            watcher.join(5)
    finally:
        container.close()
    assert set(statuses) <= {200, 202}, statuses  # requests wait for a connection, none fail
    assert 2 <= peak[0] <= POOL, peak[0]


def test_the_warning_line_adds_every_budget() -> None:
    room = Room(
        max_connections=100, reserved=3, other_so1={("a", 1): 40, ("b", 2): 40}, other_clients=7
    )
    assert room.warning(10, "worker") is None  # 80 + 7 + 10 = 97 fit in 97
    line = room.warning(11, "worker")
    assert line is not None and "\n" not in line
    assert "max_connections=100 (3 reserved) leaves 97" in line
    assert "2 other SO1 processes may open 80, other clients hold 7" in line
    assert "this worker may open 11: 98 in all" in line
    assert "SO1_DB_POOL_SIZE" in line


def _pretend_other_so1_process(url: str, pool: int) -> psycopg.Connection[tuple[object, ...]]:
    """A connection named as another host's SO1 worker would name it, budget included."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(conninfo, application_name=f"so1 worker elsewhere:4242 pool={pool}")


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning: PostgreSQL")]


def test_serve_and_worker_warn_once_when_their_connections_would_not_fit(
    postgres_url: str, tmp_path: Path
) -> None:
    env = clean_env(SO1_DATABASE_URL=postgres_url, SO1_DB_POOL_SIZE="8", SO1_WORKERS="2")
    with _pretend_other_so1_process(postgres_url, 95):
        with serving(tmp_path, env) as server:
            served = server.output()
        worker = subprocess.Popen(
            [sys.executable, "-m", "so1", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert worker.stdout is not None
            lines: list[str] = []
            for line in worker.stdout:  # until its banner (or its end, if it failed)
                lines.append(line)
                if "SO1 worker running" in line:
                    break
        finally:
            worker.send_signal(signal.SIGTERM)
            rest, _ = worker.communicate(timeout=60)
    (serve_line,) = _warnings(served)
    # other tests' SO1 processes may share the server when the suite runs in parallel
    others = re.search(r"(\d+) other SO1 processes may open (\d+)", serve_line)
    assert others is not None and int(others[1]) >= 1 and int(others[2]) >= 95, serve_line
    assert "this server (2 processes, 1 triage) may open 24" in serve_line
    output = "".join(lines) + rest
    assert len(_warnings(output)) == 1, output
    (worker_line,) = _warnings(output)
    assert "this worker may open 8" in worker_line


def _registered_job_workers(url: str) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_a_worker_stops_on_sigterm_without_a_traceback_and_unregisters_its_job_workers(
    postgres_url: str, tmp_path: Path
) -> None:
    before = _registered_job_workers(postgres_url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "so1", "worker"],
        cwd=tmp_path,
        env=clean_env(SO1_DATABASE_URL=postgres_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # triage, delivery and clocks each have a job worker, and one recovers stalled passes
        while _registered_job_workers(postgres_url) < before + 4 and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker's job workers never registered"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert "SO1 worker stopped" in output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert _registered_job_workers(postgres_url) == before


def test_a_worker_pool_too_small_for_its_job_engine_stops_it_naming_the_setting(
    postgres_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        SO1_DATABASE_URL=postgres_url,
        SO1_DB_POOL_SIZE="6",
        SO1_WORKER_CONCURRENCY="triage=2,delivery=1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "so1", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "error: SO1_DB_POOL_SIZE=6 is too small for this worker" in done.stderr
    assert "the job engine takes 5 and its passes need 4 more (at least 9" in done.stderr
