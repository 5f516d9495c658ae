"""`so1 serve --workers N` on Linux: N server processes, each on its own SO_REUSEPORT socket
(``api/server_process``), so the kernel balances connections across them, and at most one
triage process for the whole group (`so1 worker --wake-from-socket`), woken by every server.

This process only supervises: a server or the triage process that exits is started again
after a pause that doubles up to 30 s (one line naming it); on SIGINT or SIGTERM every child
gets SIGTERM and stops cleanly (uvicorn and `so1 worker` stop gracefully on it; a child still
importing just ends, where SIGINT would print a KeyboardInterrupt traceback). The children
run in their own process group, so a terminal's Ctrl-C reaches this process alone."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import typer

from so1.adapters.jobs import wake_socket
from so1.adapters.jobs.child import FIRST_RESTART_PAUSE, HEALTHY_AFTER, LONGEST_RESTART_PAUSE
from so1.bootstrap import triage_child_command
from so1.entrypoints.api.server_process import port_taken

STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.2


def available() -> bool:
    """Linux, where SO_REUSEPORT balances connections across the sockets bound with it."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


@dataclass
class Member:
    """One supervised child: its command, and when to start it again after it exited."""

    name: str
    command: list[str]
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause: float = FIRST_RESTART_PAUSE
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, no shell
            self.command, env=self.env, process_group=0, stdin=subprocess.DEVNULL
        )
        self.started, self.restart_at = time.monotonic(), None

    def look_after(self, now: float) -> None:
        """Start it again when due; note its exit when it has just exited."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        process = self.process
        if process is None or process.poll() is None:
            return
        if now - self.started >= HEALTHY_AFTER:
            self.pause = FIRST_RESTART_PAUSE
        typer.echo(
            f"{self.name} (pid {process.pid}) exited with code {process.returncode};"
            f" starting it again in {self.pause:.0f} s",
            err=True,
        )
        self.restart_at = now + self.pause
        self.pause = min(self.pause * 2, LONGEST_RESTART_PAUSE)

    def signal(self, signum: int) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    def wait(self, deadline: float) -> None:
        process = self.process
        if process is None:
            return
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def members(
    host: str, port: int, processes: int, triage_env: Mapping[str, str] | None
) -> list[Member]:
    """The triage process (when ``triage_env``: triage runs in a child) and the servers."""
    address = wake_socket.new_address() if triage_env is not None else None
    serve = [sys.executable, "-m", "so1.entrypoints.api.server_process", host, str(port)]
    group = [
        Member(f"server process {n}", [*serve, *([address] if address else [])])
        for n in range(1, processes + 1)
    ]
    if address is not None:
        command = triage_child_command("--wake-from-socket", address)
        group.insert(0, Member("triage process", command, triage_env))
    return group


def check_port(host: str, port: int) -> None:
    """Stop here, with one line, when something listens on ``host:port`` already."""
    taken = port_taken(host, port)
    if taken is not None:
        typer.echo(f"cannot serve on {host}:{port}: {taken}", err=True)
        raise typer.Exit(1)


def answers(host: str, port: int) -> bool:
    """Whether a connection to ``host:port`` is accepted (a server process listens)."""
    try:
        socket.create_connection((host, port), timeout=POLL_SECONDS).close()
    except OSError:
        return False
    return True


def run(group: list[Member], ready: Callable[[], bool], announce: Callable[[], None]) -> None:
    """Start ``group``, ``announce`` once ``ready`` (the port answers), keep it running until
    SIGINT or SIGTERM, then stop it."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for member in group:
        member.start()
    waiting = True
    while not stop.wait(POLL_SECONDS):
        if waiting and ready():
            announce()
            waiting = False
        now = time.monotonic()
        for member in group:
            member.look_after(now)
    for member in group:
        member.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for member in group:
        member.wait(deadline)
