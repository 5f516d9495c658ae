"""End-to-end fixtures: the real app behind a real socket, and the `so1` CLI run in-process.

``live_server`` serves ``create_app(container)`` with uvicorn on a free 127.0.0.1 port from a
background thread, so it follows the ``db_url`` parametrization and the test's FixedClock.

``cli`` runs the Typer app with CliRunner. Its environment (SO1_API_URL, SO1_API_KEY,
SO1_DATABASE_URL, a fixed terminal width, no colour) is passed through the runner, which
restores ``os.environ`` afterwards, and the working directory is a temporary one so no
``so1.toml`` is picked up. The commands that open the database themselves (``keys create``
without SO1_API_URL, ``security seal-secrets``) build their own container; they are given the
test's clock so that keys they create live on the same timeline as the server's.
"""

from __future__ import annotations

import functools
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container, build_container
from so1.entrypoints.api.app import create_app
from so1.entrypoints.cli import app as cli_app, local

TOKEN_RE = re.compile(r"so1_[0-9a-f]{16}_[A-Za-z0-9_-]+")
# Rich uses 80 columns when output is not a terminal (scripts, CI logs): test what they see.
DEFAULT_COLUMNS = 80


@pytest.fixture
def live_server(container: Container) -> Iterator[str]:
    """Base URL of the real app served by uvicorn on a free port; stopped after the test."""
    with serve(container) as url:
        yield url


@contextmanager
def serve(container: Container, **uvicorn_options: Any) -> Iterator[str]:
    """Serve the app in a thread on a free loopback port (HTTPS when given ssl_* options)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(container),
        log_level="warning",
        ws="none",
        lifespan="off",
        server_header=False,
        **uvicorn_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the live server did not start", pytrace=False)
        time.sleep(0.01)
    scheme = "https" if "ssl_certfile" in uvicorn_options else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the live server did not stop"


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def last_line(self) -> str:
        lines = self.stdout.strip().splitlines()
        return lines[-1].strip() if lines else ""

    def assert_ok(self) -> CliResult:
        assert self.exit_code == 0, f"exit {self.exit_code}\n{self.stdout}\n{self.stderr}"
        return self

    def assert_clean_failure(self, code: int = 1) -> str:
        """Non-zero exit with an error message and no traceback; returns stderr."""
        assert self.exit_code == code, f"exit {self.exit_code}\n{self.stdout}\n{self.stderr}"
        assert self.exception is None or isinstance(self.exception, SystemExit), self.exception
        assert "Traceback" not in self.stdout + self.stderr
        # Commands that open a database name it on a line before the error.
        assert "\nerror:" in "\n" + self.stderr.strip(), self.stderr
        return self.stderr


@dataclass
class Cli:
    """Runs ``so1 ARGS...`` in-process; ``api_url``/``api_key`` become SO1_API_URL/KEY."""

    db_url: str
    api_url: str | None = None
    api_key: str | None = None
    columns: int = DEFAULT_COLUMNS
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, **env_overrides: str | None) -> CliResult:
        env: dict[str, str | None] = {
            "SO1_DATABASE_URL": self.db_url,
            "SO1_API_URL": self.api_url,
            "SO1_API_KEY": self.api_key,
            "COLUMNS": str(self.columns),
            "LINES": "50",
            "NO_COLOR": "1",
            "TERM": "xterm",
        }
        env.update(env_overrides)
        result = self.runner.invoke(cli_app, list(args), env=env)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)


@pytest.fixture
def cli(db_url: str, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI with no server configured (``SO1_API_URL`` unset, no key)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(local, "build_container", functools.partial(build_container, clock=clock))
    return Cli(db_url=db_url)


@pytest.fixture
def server_cli(cli: Cli, live_server: str, admin_token: str) -> Cli:
    """The CLI pointed at ``live_server`` with an admin key."""
    cli.api_url = live_server
    cli.api_key = admin_token
    return cli


@pytest.fixture
def quiet_api(container: Container, admin_token: str) -> Iterator[TestClient]:
    """The API with no background threads: the test delivers the outbox itself."""
    settings = container.settings
    settings.triage_worker = settings.delivery_worker = settings.runbook_clocks = False
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


# Intake fixtures (a scripted triage agent and a client whose worker is driven by the test).
from tests.e2e.deployer_support import railway  # noqa: E402
from tests.e2e.intake_support import alerts_api, triage  # noqa: E402

__all__ = ["alerts_api", "railway", "triage"]
