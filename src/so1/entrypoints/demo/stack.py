"""The processes of `so1 demo`, all real: supervisord running the sample service through the
local platform, and `so1 serve` on a SQLite file, each on a free loopback port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from so1.adapters.platform.local import LocalPlatform, add_release
from so1.examples import pool_service

SERVICE = "control-plane-api"
START_TIMEOUT = 60.0
PORT_ATTEMPTS = 3
TOKEN = re.compile(r"\bso1_[A-Za-z0-9_-]+\b")


class PortTaken(RuntimeError):
    """The sample service could not bind its port: another process took it first."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is taken")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    workdir: Path
    app_port: int = field(default_factory=free_port)
    supervisor_port: int = field(default_factory=free_port)
    so1_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = ""
    # With an SO1 already running (`so1 demo --api-url`): its URL and its platform's root.
    external_url: str | None = None
    root: Path | None = None

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def so1_url(self) -> str:
        return self.external_url or f"http://127.0.0.1:{self.so1_port}"

    @property
    def supervisor_url(self) -> str:
        return f"http://127.0.0.1:{self.supervisor_port}"

    @property
    def platform_root(self) -> Path:
        return self.root or self.workdir / "platform"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'so1.db'}"

    def start_service(self, pool_size: int) -> None:
        """Release v1 of the sample service under supervisord, on the local platform."""
        if not (
            self.platform_root / SERVICE / "releases" / "v1"
        ).is_dir():  # a later demo reuses it
            add_release(self.platform_root, SERVICE, "v1", [sys.executable, pool_service.__file__])
        if not _bindable(self.supervisor_port):
            raise RuntimeError(
                f"port {self.supervisor_port} (supervisord's) is taken: stop what listens there"
            )
        env = {"PORT": str(self.app_port), "DATABASE_POOL_SIZE": str(pool_size)}
        self.platform().set_variables(SERVICE, env, apply=False)
        config = self.workdir / "supervisord.conf"
        config.write_text(self._supervisor_config())
        supervisord = Path(sys.executable).with_name("supervisord")
        self._spawn([str(supervisord), "-c", str(config)], "supervisord.log")
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                self._wait(self._program_running, "the sample service under supervisord")
                return
            except PortTaken:
                self._move_service_port()
        self._wait(self._program_running, "the sample service under supervisord")

    def _move_service_port(self) -> None:
        """Another process took the service's port before it bound it: pick another, retry."""
        self.app_port = free_port()
        self.platform().set_variables(SERVICE, {"PORT": str(self.app_port)}, apply=False)
        self._supervisor().supervisor.startProcess(SERVICE)

    def _supervisor_config(self) -> str:
        launcher = f"{sys.executable} -m so1.adapters.platform.local_launcher"
        return "\n".join(
            [
                "[supervisord]",
                "nodaemon=true",
                f"logfile={self.workdir / 'supervisord.main.log'}",
                f"pidfile={self.workdir / 'supervisord.pid'}",
                "",
                "[inet_http_server]",
                f"port=127.0.0.1:{self.supervisor_port}",
                "",
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                "",
                f"[program:{SERVICE}]",
                f"command={launcher} {self.platform_root / SERVICE}",
                "autostart=true",
                "startsecs=1",
                "stopwaitsecs=5",
                "redirect_stderr=true",
                f"stdout_logfile={self.workdir / 'service.log'}",
                "",
            ]
        )

    def _supervisor(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(f"{self.supervisor_url}/RPC2")

    def _program_running(self) -> bool:
        """True once the service answers; raises when supervisord gave up starting it."""
        try:
            info: dict[str, object] = self._supervisor().supervisor.getProcessInfo(SERVICE)  # type: ignore[assignment]
        except (OSError, xmlrpc.client.Error):
            return False
        state = info.get("statename")
        if state == "FATAL":
            log = self.tail("service.log")
            if "Address already in use" in log:
                raise PortTaken(self.app_port)
            raise RuntimeError(f"supervisord gave up starting the sample service:\n{log}")
        return state == "RUNNING" and self._answers(f"{self.app_url}/stats")

    def tail(self, log_name: str, lines: int = 15) -> str:
        """The last lines of one of the demo's logs, for an error message."""
        try:
            text = (self.workdir / log_name).read_text(errors="replace")
        except OSError as exc:
            return f"({log_name}: {exc.strerror})"
        return "\n".join(text.splitlines()[-lines:]) or f"({log_name} is empty)"

    def platform(self) -> LocalPlatform:
        return LocalPlatform(self.platform_root, self.supervisor_url, start_timeout=20.0)

    def start_so1(self, stability_minutes: float) -> None:
        self.spawn_so1(stability_minutes)
        self.await_so1()

    def spawn_so1(self, stability_minutes: float) -> None:
        """Start `so1 serve` on its SQLite file without waiting (see await_so1)."""
        if not _bindable(self.so1_port):
            raise RuntimeError(f"port {self.so1_port} is taken: pick another with --port")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SO1_")} | {
            "SO1_DATABASE_URL": self.database_url,
            "SO1_PORT": str(self.so1_port),
            "SO1_PLATFORM": "local",
            "SO1_LOCAL_PLATFORM_ROOT": str(self.platform_root),
            "SO1_SUPERVISOR_URL": self.supervisor_url,
            "SO1_CLOCK_SECONDS": "1",
            # the demo's service answers its health check on this machine's loopback
            "SO1_OUTBOUND_ALLOW": "127.0.0.1/32",
            "SO1_STABILITY_MINUTES": str(stability_minutes),
            "SO1_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
        self._spawn([sys.executable, "-m", "so1", "serve"], "so1.log", env)

    def await_so1(self) -> None:
        """Wait until `so1 serve` answers; read the admin key it printed on its first start."""
        log = self.workdir / "so1.log"
        self._wait(lambda: self._answers(f"{self.so1_url}/v1/health"), "so1 serve")
        found = TOKEN.search(log.read_text(errors="replace"))
        if found is None:
            raise RuntimeError(f"so1 serve printed no admin key; see {log}")
        self.token = found.group(0)

    def _spawn(self, command: list[str], log_name: str, env: dict[str, str] | None = None) -> Path:
        log = self.workdir / log_name
        with log.open("wb") as out:
            self.processes.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and supervisord
                    command, cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
        return log

    def _answers(self, url: str) -> bool:
        try:
            return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ready():
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a process exited while starting {what}{self._log_ends()}")
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not start within {START_TIMEOUT:.0f} s{self._log_ends()}")

    def _log_ends(self) -> str:
        """The end of each log, so that a failure explains itself."""
        names = sorted(path.name for path in self.workdir.glob("*.log"))
        return "".join(f"\n--- {name} (last lines)\n{self.tail(name)}" for name in names)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
