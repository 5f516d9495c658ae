"""`so1 serve --workers 2` on Linux (issue 18): each server process binds its own SO_REUSEPORT
socket, so keep-alive connections land on more than one of them; one triage process for the
group triages each alert once, whichever server took it; a killed server is started again;
SIGTERM to the parent leaves no child behind."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from bench import _processes

from so1.entrypoints.cli import server_group
from tests.e2e.intake_support import SEED_ALERT
from tests.e2e.test_processes import START_TIMEOUT, Server, clean_env, free_port, so1_keys_create

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not server_group.available(), reason="SO_REUSEPORT balancing is Linux's"),
]
T = TypeVar("T")
CONNECTIONS = 32


@contextmanager
def serving_group(tmp_path: Path, env: dict[str, str], *, wait: bool = True) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        command = [sys.executable, "-m", "so1", "serve", "--port", str(port), "--workers", "2"]
        proc = subprocess.Popen(  # its own process group, as a shell's foreground job
            command, cwd=tmp_path, env=env, stdout=sink, stderr=sink, process_group=0
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    try:
        if wait:
            server.wait_healthy()
        yield server
    finally:
        server.stop()


def commands(pids: list[int]) -> dict[int, str]:
    found = {}
    for pid in pids:
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def servers_of(server: Server) -> list[int]:
    running = commands(_processes.children(server.proc.pid))
    return [pid for pid, line in running.items() if "server_process" in line]


def triage_processes_of(server: Server) -> list[int]:
    running = commands(_processes.children(server.proc.pid))
    return [pid for pid, line in running.items() if "worker --wake-from-socket" in line]


def wait_for(probe: Callable[[], T], server: Server, what: str) -> T:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{server.output()}")


def keep_alive_posts(server: Server, token: str, stack: ExitStack) -> list[str]:
    """One alert posted on each of CONNECTIONS connections, all left open."""
    port = int(server.url.rsplit(":", 1)[1])
    ids = []
    for n in range(CONNECTIONS):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stack.callback(connection.close)
        body = json.dumps({**SEED_ALERT, "dedup_key": f"k{n}", "service": f"svc-{n}"})
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request("POST", "/v1/alerts", body=body, headers=headers)
        answer = connection.getresponse()
        assert answer.status == 202, answer.read()
        ids.append(json.loads(answer.read())["alert_id"])
    return ids


def waiting_for_triage(database: Path) -> int:
    with sqlite3.connect(database) as db:
        waiting = "SELECT count(*) FROM alerts WHERE triage_state IN ('pending', 'processing')"
        count: int = db.execute(waiting).fetchone()[0]
        return count


def triage_runs(database: Path) -> int:
    with sqlite3.connect(database) as db:
        query = "SELECT count(*) FROM agent_runs WHERE agent = 'triage-responder'"
        count: int = db.execute(query).fetchone()[0]
        return count


def test_connections_spread_over_servers_and_each_alert_is_triaged_once(tmp_path: Path) -> None:
    database = tmp_path / "so1.db"
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{database}")
    with serving_group(tmp_path, env) as server, ExitStack() as connections:
        token = so1_keys_create(tmp_path, env)
        servers = wait_for(lambda: servers_of(server), server, "the server processes")
        assert len(servers) == 2, commands(_processes.children(server.proc.pid))
        assert len(triage_processes_of(server)) == 1  # one for the group, none per server

        ids = keep_alive_posts(server, token, connections)
        held = _processes.connections(servers, int(server.url.rsplit(":", 1)[1]))
        assert sum(held.values()) == CONNECTIONS, held
        assert all(count > 0 for count in held.values()), held  # the kernel shared them out

        wait_for(lambda: waiting_for_triage(database) == 0, server, "triage of every alert")
        assert triage_runs(database) == len(set(ids)) == CONNECTIONS  # each exactly once
        assert len(triage_processes_of(server)) == 1


def test_a_killed_server_is_restarted_and_sigterm_leaves_no_child(tmp_path: Path) -> None:
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}")
    with serving_group(tmp_path, env) as server:
        first = wait_for(lambda: servers_of(server), server, "the server processes")
        os.kill(first[0], signal.SIGKILL)
        wait_for(
            lambda: len(set(servers_of(server)) - set(first)) == 1, server, "a new server process"
        )
        assert len(servers_of(server)) == 2
        assert f"(pid {first[0]}) exited with code -9" in server.output()
        server.wait_healthy()
        group = _processes.tree(server.proc.pid)[1:]
        assert len(group) == 3  # two servers, one triage process
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
    left = [pid for pid in group if _alive(pid)]
    assert not left, commands(left)
    assert "Fatal Python error" not in server.output()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_port_in_use_stops_the_start_with_one_line(tmp_path: Path) -> None:
    """Even one held by another SO_REUSEPORT group: the new group would share its connections."""
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}")
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = [sys.executable, "-m", "so1", "serve", "--port", str(port), "--workers", "2"]
        done = subprocess.run(
            command, check=False, cwd=tmp_path, env=env, capture_output=True, timeout=60, text=True
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_ctrl_c_stops_the_group_cleanly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C is SIGINT to the foreground process group: the parent's alone."""
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}")
    with serving_group(tmp_path, env) as server:
        wait_for(lambda: len(servers_of(server)) == 2, server, "the server processes")
        group = _processes.tree(server.proc.pid)[1:]
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.proc.wait(30) == 0
    assert not [pid for pid in group if _alive(pid)]
    assert "Traceback" not in server.output()
    assert "Fatal Python error" not in server.output()


def test_the_address_is_announced_once_the_port_answers(tmp_path: Path) -> None:
    """The server processes take a second or two to listen: the parent says where SO1 serves
    only when a connection is accepted there, after one line saying how many processes serve."""
    env = clean_env(SO1_DATABASE_URL=f"sqlite:///{tmp_path / 'so1.db'}")
    with serving_group(tmp_path, env, wait=False) as server:
        port = int(server.url.rsplit(":", 1)[1])
        wait_for(lambda: "SO1 serving on" in server.output(), server, "the address")
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # no retry
        output = server.output()
        assert "2 server processes share the port" in output
        assert output.index("2 server processes") < output.index("SO1 serving on")
