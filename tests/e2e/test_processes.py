"""Real `so1 serve` processes: first start, the runbook's own HTTP calls, and two stateless
processes sharing one database."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import _processes

from tests.e2e.conftest import TOKEN_RE

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any SO1_* variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SO1_")}
    env |= {"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return env | settings


def listens_on(pid: int, port: int) -> bool:
    """Whether ``pid`` or a process it started holds the listening socket of ``port``: a
    port from ``free_port`` can be taken by another test's server before this one binds it."""
    held = _processes.connections(_processes.tree(pid), port, _processes.LISTEN)
    return any(held.values())


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        """Until the server answers its health check on a port it listens on itself: a port
        from ``free_port`` can be taken by another test's server in between, which would
        answer for one still starting."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"so1 serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                healthy = httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                healthy = False
            if healthy and self.listens():
                return
            time.sleep(0.1)
        pytest.fail(f"so1 serve not healthy after {START_TIMEOUT}s:\n{self.output()}")

    def listens(self) -> bool:
        """Whether a process of this server's tree holds the listening socket of its port."""
        return listens_on(self.proc.pid, int(self.url.rsplit(":", 1)[1]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def serving(cwd: Path, env: dict[str, str], wait: bool = True) -> Iterator[Server]:
    """A `so1 serve` process on a free port, output in a file; always terminated."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "so1", "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    try:
        if wait:
            server.wait_healthy()
        yield server
    finally:
        server.stop()


def so1_keys_create(cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "so1", "keys", "create", "--name", "t", "--scopes", "admin"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = done.stdout.strip().splitlines()[-1]
    assert TOKEN_RE.fullmatch(token), done.stdout
    return token


def curl(url: str, token: str, method: str = "GET", data: Any = None) -> httpx.Response:
    """Shaped like the runbook's `curl [-X M] URL -H "Authorization: ..." [-d '{...}']`:
    the JSON goes as raw bytes and no Content-Type is set."""
    headers = {"Authorization": f"Bearer {token}"}
    content = None if data is None else json.dumps(data).encode()
    return httpx.request(method, url, headers=headers, content=content, timeout=30)


def test_a_server_is_ready_only_on_a_port_its_own_processes_listen_on(tmp_path: Path) -> None:
    """Another process answering on the port (a test's server that took it in between) does
    not make a server still starting look ready."""
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = Server(other, f"http://127.0.0.1:{port}", tmp_path / "other.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not owner.listens() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert owner.listens()
        assert not Server(starting, owner.url, tmp_path / "starting.log").listens()
    finally:
        for proc in (other, starting):
            proc.kill()
            proc.wait()


# --- a. first start on the default SQLite path, then the runbook's calls --------------------


def test_first_start_prints_admin_key_once_then_the_seed_calls_work(tmp_path: Path) -> None:
    env = clean_env()
    with serving(tmp_path, env) as first:
        printed = TOKEN_RE.findall(first.output())
    assert len(printed) == 1, first.output()
    token = printed[0]
    assert (tmp_path / "so1.db").exists()

    with serving(tmp_path, env) as server:
        assert not TOKEN_RE.search(server.output()), server.output()
        url = f"{server.url}/v1"

        health = httpx.get(f"{url}/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "healthy"
        assert health.json()["checks"]["database"] == "ok"

        declared = curl(
            f"{url}/incidents",
            token,
            "POST",
            {
                "title": "Control plane API errors",
                "severity": "SEV2",
                "service": "control-plane-api",
                "detected_at": "2024-01-15T13:50:00Z",
            },
        )
        assert declared.status_code == 201, declared.text
        inc_id = declared.json()["id"]
        assert inc_id.startswith(f"INC-{datetime.now(UTC):%Y%m%d}-")

        close = {
            "status": "resolved",
            "resolution_summary": "Increased connection pool size",
            "resolved_at": "2024-01-15T14:30:00Z",
        }
        closed = curl(f"{url}/incidents/{inc_id}", token, "PATCH", close)
        assert closed.status_code == 200, closed.text
        for body in (closed.json(), curl(f"{url}/incidents/{inc_id}", token).json()):
            assert body["status"] == "resolved"
            assert body["resolution_summary"] == "Increased connection pool size"
            assert body["resolved_at"] == "2024-01-15T14:30:00Z"

        flag = f"{url}/feature-flags/bulk-execution"
        assert curl(flag, token, "PUT", {"enabled": True}).status_code in (200, 201)
        patched = curl(flag, token, "PATCH", {"enabled": False})
        assert patched.status_code == 200, patched.text
        assert patched.json()["enabled"] is False
        assert curl(flag, token).json()["enabled"] is False

        for version in ("v1.2.2", "v1.2.3"):
            deploy = {"service": "control-plane-api", "version": version}
            assert curl(f"{url}/deployments", token, "POST", deploy).status_code == 201
        recent = curl(f"{url}/deployments/recent?hours=24", token)
        assert recent.status_code == 200, recent.text
        listed = {d["version"]: d for d in recent.json()["deployments"]}
        assert listed["v1.2.3"]["previous_version"] == "v1.2.2"
        assert listed["v1.2.3"]["service"] == "control-plane-api"
        _names_the_database_once_and_its_triage_process(server)


def _names_the_database_once_and_its_triage_process(server: Server) -> None:
    """The triage child does not repeat the server's banner; it says once that it runs."""
    deadline = time.monotonic() + START_TIMEOUT
    while "triage process" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = server.output()
    assert re.search(r"triage process \d+ running beside the server: triage", text), text
    assert text.count("database: ") == 1, text
    assert text.count("schema at revision") == 1, text


# --- b. two stateless processes, one database -----------------------------------------------


def test_two_processes_share_one_database(db_url: str, tmp_path: Path) -> None:
    env = clean_env(SO1_DATABASE_URL=db_url, SO1_LOG_LEVEL="warning")
    token = so1_keys_create(tmp_path, env)
    auth = {"Authorization": f"Bearer {token}"}

    with ExitStack() as stack:
        servers = [stack.enter_context(serving(tmp_path, env, wait=False)) for _ in range(2)]
        for server in servers:
            server.wait_healthy()
        day_before = datetime.now(UTC).date()

        def declare(n: int) -> httpx.Response:
            body = {"title": f"concurrent {n}", "severity": "SEV3"}
            base = servers[n % 2].url
            return httpx.post(f"{base}/v1/incidents", json=body, headers=auth, timeout=60)

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(declare, range(50)))
        day_after = datetime.now(UTC).date()

        assert [r.status_code for r in answers] == [201] * 50, [r.text for r in answers]
        ids = [r.json()["id"] for r in answers]
        assert len(set(ids)) == 50
        days = {i.split("-")[1] for i in ids}
        assert days in ({f"{day_before:%Y%m%d}"}, {f"{day_after:%Y%m%d}"})
        assert sorted(int(i.split("-")[2]) for i in ids) == list(range(1, 51))

        one, other = (s.url for s in servers)
        made = httpx.post(
            f"{one}/v1/incidents", json={"title": "x", "severity": "SEV2"}, headers=auth
        )
        inc_id = made.json()["id"]
        read = httpx.get(f"{other}/v1/incidents/{inc_id}", headers=auth)
        assert read.status_code == 200
        assert read.json()["title"] == "x"
        changed = httpx.patch(
            f"{other}/v1/incidents/{inc_id}", json={"status": "investigating"}, headers=auth
        )
        assert changed.status_code == 200, changed.text
        again = httpx.get(f"{one}/v1/incidents/{inc_id}", headers=auth).json()
        assert again["status"] == "investigating"
        listed = httpx.get(f"{one}/v1/incidents", params={"limit": 1}, headers=auth).json()
        assert listed["total"] == 51


# --- c. a start that migrates while another process writes (SQLite) -------------------------


def _has_open(pid: int, path: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


def test_start_on_fresh_sqlite_waits_for_another_writer(tmp_path: Path) -> None:
    """Two replicas starting at once on a new SQLite file: one migrates while the other
    writes. Modelled deterministically: this test holds the write lock while `so1 serve`
    begins migrating, then commits; the server must wait its turn, not die."""
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE other_writer (x INTEGER)")
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO other_writer VALUES (1)")
        env = clean_env(SO1_DATABASE_URL=f"sqlite:///{path}", SO1_LOG_LEVEL="warning")
        with serving(tmp_path, env, wait=False) as server:
            deadline = time.monotonic() + START_TIMEOUT
            while not _has_open(server.proc.pid, path):
                assert server.proc.poll() is None, server.output()
                assert time.monotonic() < deadline, "so1 serve never opened the database"
                time.sleep(0.02)
            time.sleep(0.5)  # let it read the schema and queue for the write lock
            holder.execute("COMMIT")
            server.wait_healthy()
    finally:
        holder.close()


def test_so1_worker_delivers_what_a_server_queued(tmp_path: Path) -> None:
    """SO1_BACKGROUND=worker: the server only takes requests; `so1 worker` does the rest."""
    from so1.agents.commander.contract import CommanderRequest
    from so1.bootstrap import build_container
    from so1.config import Settings
    from so1.domain.severity import Severity
    from so1.services.declaration.flow import commander_request
    from so1.services.incidents.lifecycle import NewIncident, create_incident
    from so1.services.incidents.recording import Actor

    url = f"sqlite:///{tmp_path / 'so1.db'}"
    env = clean_env(SO1_DATABASE_URL=url, SO1_BACKGROUND="worker", SO1_LOG_LEVEL="warning")
    container = build_container(Settings(database_url=url))
    from so1.adapters.db import migrate

    migrate.upgrade(container.engine)
    actor = Actor("test")
    incident = create_incident(
        container.uow, container.clock, actor, NewIncident("Checkout down", Severity.SEV2)
    )
    commander = container.agents.commander
    assert commander is not None
    commander_request(
        container.uow, container.clock, actor, commander, CommanderRequest(incident.id)
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "so1"), "worker"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                with container.uow(read_only=True) as uow:
                    said = uow.outbox.for_incident(incident.id)
                if said and all(m.status.value == "sent" for m in said):
                    break
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
            else:
                pytest.fail(f"the worker delivered nothing:\n{log.read_text()}")
        finally:
            proc.terminate()
            code = proc.wait(timeout=15)
    container.close()
    assert code == 0, log.read_text()
    text = log.read_text()
    assert "SO1 worker running on in-process: triage, delivery, clocks" in text
    assert "SO1 worker stopped" in text


@pytest.mark.postgres
def test_so1_worker_on_postgres_runs_what_a_server_wakes(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: the server commits an alert and defers a triage job; `so1 worker` runs it
    on procrastinate, the commander declares, and the worker delivers the messages."""
    from fastapi.testclient import TestClient

    from so1.bootstrap import build_container
    from so1.config import Settings
    from so1.entrypoints.api.app import create_app
    from so1.services.access import keys as access
    from tests.conftest import _truncate_postgres
    from tests.e2e.intake_support import SEED_ALERT

    _truncate_postgres(postgres_url)
    env = clean_env(SO1_DATABASE_URL=postgres_url, SO1_LOG_LEVEL="warning")
    container = build_container(Settings(database_url=postgres_url, background="worker"))
    token = access.ensure_admin_key(container.uow, container.clock)
    assert token is not None
    log = tmp_path / "worker.log"
    with log.open("wb") as out, TestClient(create_app(container)) as api:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "so1"), "worker"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_line(proc, log, "SO1 worker running on procrastinate")
            api.headers["Authorization"] = f"Bearer {token.token}"
            assert api.post("/v1/alerts", json=SEED_ALERT).status_code == 202
            delivered = wait_until(lambda: _declared_and_delivered(container), proc, log)
        finally:
            proc.terminate()
            code = proc.wait(timeout=45)
    container.close()
    assert code == 0, log.read_text()
    assert delivered[0].kind == "declared"
    assert "SO1 worker stopped" in log.read_text()


def _declared_and_delivered(container: Any) -> list[Any]:
    from so1.ports import IncidentFilter

    with container.uow(read_only=True) as uow:
        incidents = uow.incidents.search(IncidentFilter())[0]
        if not incidents:
            return []
        said = uow.outbox.for_incident(incidents[0].id)
    return said if said and all(m.status.value == "sent" for m in said) else []


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, line: str) -> None:
    wait_until(lambda: line in log.read_text(), proc, log)


def wait_until(probe: Any, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        assert proc.poll() is None, log.read_text()
        time.sleep(0.2)
    pytest.fail(f"timed out; worker output:\n{log.read_text()}")
