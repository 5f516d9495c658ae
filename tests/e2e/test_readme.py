"""The README's commands, run as written, in order, against a fresh `so1 serve`.

Every line of every ```sh block runs in a shell in a directory laid out like a clone (the
files the README names, `.venv/bin` pointing at this interpreter's). Only what an earlier
command printed is substituted: the API key (the first start's, then the one `so1 security
rotate` prints), the incident id, and the server's address (it listens on a free port, so
`SO1_API_URL` names it and `http://127.0.0.1:8000` in a curl line becomes it). Long-running
commands (`so1 serve`, `so1 worker`) run until they say they are up. The few lines that cannot
run here are listed below with the reason and where they are tested; a line that is neither
run nor listed fails the test, as does a command that exits non-zero or a curl call answered
with a problem document.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from so1.entrypoints.cli import app as cli_app
from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_processes import clean_env, free_port, listens_on

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHOWN_ID = "INC-20240115-0042"
SHOWN_URL = "http://127.0.0.1:8000"
INCIDENT_ID = re.compile(r"INC-\d{8}-\d{4}")
EXPORTED_KEY = re.compile(r"export SO1_API_KEY=(so1_\S+)")
SERVE = re.compile(r"^(?:\.venv/bin/)?so1 serve\b")
WORKER = re.compile(r"^(?:\.venv/bin/)?so1 worker\b")

# Lines that do not run here: the start of the line → why, and what tests it instead.
NOT_RUN_HERE = {
    "python3 -m venv .venv": "installing: the suite runs in the installed package",
    ".venv/bin/pip install -e .": "installing: the suite runs in the installed package",
    "./scripts/test": "it runs this suite",
    "createdb so1": "needs the reader's PostgreSQL role; servers on PostgreSQL: test_processes",
    "export SO1_DATABASE_URL=postgresql": "the reader's PostgreSQL; see test_processes",
    "so1 serve --workers 4": "on PostgreSQL: tests/e2e/test_processes.py",
}


def shell_lines(markdown: str) -> list[str]:
    """Each command of the ```sh blocks, continuation lines joined, in order."""
    lines: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.M | re.S):
        joined = re.sub(r"\\\n\s*", "", block)
        lines += [line.strip() for line in joined.splitlines() if line.strip()]
    return lines


def commands(line: str) -> list[str]:
    return [part.strip() for part in line.split(" && ")]


def exemption(command: str) -> str | None:
    return next((why for start, why in NOT_RUN_HERE.items() if command.startswith(start)), None)


@dataclass
class Reader:
    """Runs the README's commands as a reader would, in ``home``."""

    home: Path
    env: dict[str, str]
    base: str
    incident: str | None = None
    ran: list[str] = field(default_factory=list)
    exempt: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)

    def run(self, command: str) -> None:
        why = exemption(command)
        if why is not None:
            self.exempt.add(command)
            return
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            key = self.env.get("SO1_API_KEY", "")
            self.env[name] = value.split("#")[0].strip().replace("so1_...", key)
        elif WORKER.match(command):
            self._worker(command)
        else:
            self._shell(command)
        self.ran.append(command)

    def _shell(self, command: str) -> None:
        if SHOWN_ID in command:
            assert self.incident, f"no incident id printed before: {command}"
            command = command.replace(SHOWN_ID, self.incident)
        command = command.replace(SHOWN_URL, self.base)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        said = f"$ {command}\n{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, said
        if command.startswith("curl"):
            body = json.loads(done.stdout)
            problem = isinstance(body, dict) and str(body.get("type", "")).startswith("urn:so1")
            assert not problem, said
        self._remember(command, done.stdout)

    def _remember(self, command: str, output: str) -> None:
        if "incident create" in command or ("POST" in command and "/v1/incidents" in command):
            self.incident = INCIDENT_ID.findall(output)[0]
        if "security rotate" in command:
            self.env["SO1_API_KEY"] = EXPORTED_KEY.findall(output)[-1]
        if "login-link" in command:  # opened now: a later rotation ends the key it signs in as
            link = output.strip().splitlines()[-1]
            assert link.startswith(f"{self.base}/login/"), output
            assert httpx.get(link, follow_redirects=False, timeout=10).status_code == 303
            self.links.append(link)

    def _worker(self, command: str) -> None:
        with background(self.home, self.env, command) as (proc, log):
            wait_for(proc, log, lambda text: "SO1 worker running" in text)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
        assert "SO1 worker stopped" in log.read_text()


@contextmanager
def background(home: Path, env: dict[str, str], command: str) -> Iterator[tuple[Any, Path]]:
    log = home / f"background-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=home, env=env, stdout=sink, stderr=sink
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_for(proc: Any, log: Path, ready: Any, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if ready(text):
            return text
        assert proc.poll() is None, f"exited {proc.returncode}:\n{text}"
        time.sleep(0.2)
    pytest.fail(f"not ready after {seconds} s:\n{log.read_text(errors='replace')}")


def clone_like(home: Path) -> None:
    """What a reader's clone holds that the README names: the example files and `.venv/bin`."""
    shutil.copytree(ROOT / "docs" / "examples", home / "docs" / "examples")
    (home / ".venv").mkdir()
    (home / ".venv" / "bin").symlink_to(Path(sys.executable).parent)


def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    lines = shell_lines(README.read_text())
    serve_at = next(i for i, line in enumerate(lines) if SERVE.search(line.split(" && ")[-1]))
    home = tmp_path / "clone"
    home.mkdir()
    clone_like(home)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(SO1_PORT=str(port), SO1_API_URL=base, SO1_LOG_LEVEL="warning")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    reader = Reader(home, env, base)
    for command in commands(lines[serve_at])[:-1]:
        reader.run(command)
    started = commands(lines[serve_at])[-1]
    with background(home, env, started) as (server, log):

        def up(text: str) -> bool:
            return "SO1 serving on" in text and healthy(base) and listens_on(server.pid, port)

        first = wait_for(server, log, up)
        env["SO1_API_KEY"] = TOKEN_RE.findall(first)[0]
        reader.ran.append(started)
        for line in lines[:serve_at] + lines[serve_at + 1 :]:
            for command in commands(line):
                reader.run(command)
        check_what_they_did(reader, base)
    listed = {exemption(c) for c in reader.exempt}
    assert len(listed) == len(set(NOT_RUN_HERE.values())), (listed, NOT_RUN_HERE)
    assert not (home / "docs" / "examples" / "so1.db").exists()


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def check_what_they_did(reader: Reader, base: str) -> None:
    """A few effects, so that an exit code of 0 is not all there is."""
    auth = {"Authorization": f"Bearer {reader.env['SO1_API_KEY']}"}
    services = httpx.get(f"{base}/v1/services", headers=auth, timeout=10).json()
    assert {s["name"] for s in services} >= {"control-plane-api", "postgres-primary"}
    flag = httpx.get(f"{base}/v1/feature-flags/bulk-execution", headers=auth, timeout=10).json()
    assert flag["enabled"] is False
    assert reader.incident is not None
    closed = httpx.get(f"{base}/v1/incidents/{reader.incident}", headers=auth, timeout=10).json()
    assert (closed["status"], closed["resolved_at"]) == ("resolved", "2024-01-15T14:30:00Z")
    assert reader.links, "so1 login-link is in the README"
    assert any(c.startswith("so1 security rotate") for c in reader.ran)
    assert len(reader.ran) >= 25, reader.ran


def test_the_commands_the_readme_mentions_exist() -> None:
    """Commands named in the prose (`so1 keys rotate ID`) parse: each command path and
    option exists (click reads the whole line before it answers --help)."""
    prose = re.sub(r"^```.*?^```", "", README.read_text(), flags=re.M | re.S)
    mentioned = re.findall(r"`(?:\.venv/bin/)?so1 ([^`]*)`", prose)
    assert len(mentioned) >= 20
    runner = CliRunner()
    for line in mentioned:
        args = shlex.split(line)
        done = runner.invoke(cli_app, [*args, "--help"], env={"COLUMNS": "100"})
        assert done.exit_code == 0, f"so1 {line}: {done.output}"
    broken = runner.invoke(cli_app, ["keys", "rotate", "ID", "--bogus", "--help"])
    assert broken.exit_code == 2  # the check can fail
