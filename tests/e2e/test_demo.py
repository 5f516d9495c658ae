"""`so1 demo` end to end with real processes: supervisord running the sample service, a real
`so1 serve`, traffic, the alert, triage, declaration, acknowledgement by the on-call person, the
pool raised (recorded as a deployment), verification, resolution. Checked from its output, from
the database it leaves behind and through the API of that database served again; then written
into a server already running (--api-url). The machine is busy: the checks compare the demo's
numbers with each other (ratios), never latencies with fixed values."""

from __future__ import annotations

import json
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from so1.adapters.platform.local import add_release
from so1.entrypoints.demo.checks import AGREEMENT
from so1.entrypoints.demo.stack import SERVICE, Stack
from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_processes import clean_env, curl, free_port, serving

pytestmark = pytest.mark.slow
SO1 = str(Path(sys.executable).parent / "so1")
DECLARED = re.compile(r"INC-\d{8}-\d{4} (?P<severity>SEV\d): API error rate (?P<rate>\d+)%")
READING = re.compile(r"^\s+(?P<second>\d\d:\d\d:\d\d) error rate .*p99\s+(?P<p99>\d+) ms", re.M)
AGREE = re.compile(
    r"gate p99 (?P<gate>\d+) ms, console p99 (?P<console>\d+) ms \(worst of (?P<n>\d+)"
)
RESTART = re.compile(
    r"restart: worst error rate (?P<restart>[\d.]+)%"
    r" \(the incident's worst: (?P<incident>[\d.]+)%\)"
)
DEMO_SERVER = {  # what `so1 demo` names for a server it writes into
    "SO1_STABILITY_MINUTES": "0.25",
    "SO1_CLOCK_SECONDS": "1",
    "SO1_OUTBOUND_ALLOW": "127.0.0.1/32",
    "SO1_LOG_LEVEL": "warning",
}


def run_demo(*args: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [SO1, "demo", *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output, took


def test_so1_demo_runs_the_worked_example(tmp_path: Path) -> None:
    workdir, port = tmp_path / "demo", free_port()
    output, took = run_demo("--workdir", str(workdir), "--port", str(port))
    assert took < 60, f"the demo took {took:.0f} s:\n{output}"
    # The seed's example is SEV2 at 12%; how bad the overload gets depends on the machine's
    # speed, and from 20% of requests failing triage rightly says SEV1.
    declared = DECLARED.search(output)
    assert declared is not None, output
    expected_severity = "SEV2" if int(declared["rate"]) < 20 else "SEV1"
    assert declared["severity"] == expected_severity, output
    for expected in (
        "triage: connection_exhaustion",
        "Incident Declared",
        "acknowledged by @oncall-backend (Ana Oliveira)",
        "Set DATABASE_POOL_SIZE=20→50 on control-plane-api",
        "in /v1/deployments/recent as v1 by oncall-backend, DATABASE_POOL_SIZE=50",
        "✅ service health checks passing",
        "6. Resolved",
        "Incident Resolved",
    ):
        assert expected in output, output

    db = sqlite3.connect(workdir / "so1.db")
    [(incident_id, status, severity)] = db.execute(
        "SELECT id, status, severity FROM incidents"
    ).fetchall()
    assert (status, severity) == ("resolved", expected_severity)
    events = db.execute(
        "SELECT kind, actor, occurred_at, data FROM timeline_events WHERE incident_id = ?"
        " ORDER BY id",
        (incident_id,),
    ).fetchall()
    kinds = [kind for kind, *_ in events]
    for kind in (
        "triage.report",
        "mitigation.started",
        "mitigation.finished",
        "verification.result",
        "status.changed",
    ):
        assert kind in kinds
    acks = [actor for kind, actor, *_ in events if kind == "incident.acknowledged"]
    assert acks == ["oncall-backend"]  # a named person through the API, not the system
    verdicts = [json.loads(data) for kind, *_, data in events if kind == "verification.result"]
    assert [v["outcome"] for v in verdicts] == ["effective", "stable"]
    env = json.loads((workdir / "platform" / "control-plane-api" / "env.json").read_text())
    assert env["DATABASE_POOL_SIZE"] == "50"
    assert "pool-service listening" in (workdir / "service.log").read_text()
    assert "drained; 0 requests still in flight" in (workdir / "service.log").read_text()

    _gate_and_console_read_the_same_samples(output, db, verdicts[-1])
    restart = RESTART.search(output)
    assert restart is not None, output
    assert float(restart["restart"]) <= float(restart["incident"]), output
    _the_record_served_again(output, incident_id)


def _gate_and_console_read_the_same_samples(
    output: str, db: sqlite3.Connection, stable: dict[str, object]
) -> None:
    """Every reading the console printed is a sample SO1 stored, at the same second; the gate's
    p99 is the worst stored sample over the run it passed; and the demo's own comparison of the
    two agrees within 20%."""
    stored = {
        at[11:19]: value
        for at, value in db.execute(
            "SELECT at, value FROM metric_samples WHERE metric = 'latency_p99_ms'"
        )
    }
    printed = [(m["second"], int(m["p99"])) for m in READING.finditer(output)]
    assert len(printed) >= 8, output
    for second, p99 in printed:
        assert second in stored and abs(stored[second] - p99) <= 0.5, (second, p99, stored)

    [gate] = [g for g in stable["gates"] if g["metric"] == "latency_p99_ms"]  # type: ignore[attr-defined]
    since = datetime.fromisoformat(gate["passing_since"]).replace(tzinfo=None).isoformat(" ")
    run = [
        value
        for (value,) in db.execute(
            "SELECT value FROM metric_samples WHERE metric = 'latency_p99_ms' AND at >= ?"
            " AND at <= (SELECT MAX(occurred_at) FROM timeline_events"
            " WHERE kind = 'verification.result')",
            (since,),
        )
    ]
    assert len(run) >= 5 and gate["worst"] == max(run), (gate, run)

    agreement = AGREE.search(output)
    assert agreement is not None, output
    shown_gate, shown_console = float(agreement["gate"]), float(agreement["console"])
    assert abs(shown_gate - shown_console) <= AGREEMENT * max(shown_gate, shown_console), output
    assert int(agreement["n"]) >= 5, output


def _the_record_served_again(output: str, incident_id: str) -> None:
    """The exact command the demo printed serves its database, and its key works there."""
    [serve] = [line.strip() for line in output.splitlines() if " serve --port " in line]
    assignment, *command = shlex.split(serve)
    name, _, database = assignment.partition("=")
    assert name == "SO1_DATABASE_URL"
    [token] = re.findall(r"export SO1_API_KEY=(\S+)", output)
    assert TOKEN_RE.fullmatch(token), output
    url = re.findall(r"export SO1_API_URL=(\S+)", output)[0]
    log = Path(database.removeprefix("sqlite:///")).with_name("served-again.log")
    with log.open("wb") as sink:
        proc = subprocess.Popen(  # the command the demo printed
            command, env=clean_env(SO1_DATABASE_URL=database), stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{url}/v1/health"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        incident = curl(f"{url}/v1/incidents/{incident_id}", token).json()
        assert incident["status"] == "resolved" and incident["acknowledged_at"], incident
        recent = curl(f"{url}/v1/deployments/recent?service={SERVICE}", token).json()
        rollouts = [d for d in recent["deployments"] if d["platform_deployment_id"]]
        assert [d["config"]["DATABASE_POOL_SIZE"] for d in rollouts] == ["50"], recent
        assert rollouts[0]["previous_version"] == "v1" and rollouts[0]["platform"] == "local"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_so1_demo_writes_into_a_running_server(tmp_path: Path) -> None:
    """--api-url: the record lands in the server from README command 1, started with the
    settings the demo names; nothing is left in a database of the demo's own."""
    supervisor = f"http://127.0.0.1:{free_port()}"
    env = clean_env(**DEMO_SERVER, SO1_SUPERVISOR_URL=supervisor)
    with serving(tmp_path, env) as server:
        token = TOKEN_RE.search(server.output())
        assert token is not None, server.output()
        key = token.group(0)
        refused = subprocess.run(
            [SO1, "demo", "--api-url", server.url],
            env=clean_env(SO1_API_KEY="so1_nope_nope"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 1 and "not an admin key" in refused.stderr, refused.stderr
        workdir = tmp_path / "demo"
        output, _ = run_demo(
            "--workdir", str(workdir), "--api-url", server.url, env=clean_env(SO1_API_KEY=key)
        )
        assert f"The record is in the server at {server.url}" in output, output
        assert not (workdir / "so1.db").exists()
        page = curl(f"{server.url}/v1/incidents?service={SERVICE}", key).json()
        [incident] = page["items"]
        assert incident["status"] == "resolved" and incident["acknowledged_at"], incident
        recent = curl(f"{server.url}/v1/deployments/recent", key).json()["deployments"]
        assert any(d["deployed_by"] == "oncall-backend" for d in recent), recent
        releases = tmp_path / "so1-local" / SERVICE / "deployments.json"
        assert releases.exists()  # the service ran where this server's platform looks


def test_the_sample_service_moves_off_a_port_another_process_took(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        stack = Stack(tmp_path, app_port=taken)
        try:
            stack.start_service(pool_size=20)
            assert stack.app_port != taken
            stats = httpx.get(f"{stack.app_url}/stats", timeout=5, trust_env=False).json()
            assert stats["pool_size"] == 20
            assert "Address already in use" in (tmp_path / "service.log").read_text()
        finally:
            stack.stop()


def test_a_service_that_cannot_start_says_why(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    add_release(
        stack.platform_root, SERVICE, "v0", [sys.executable, "-c", "raise SystemExit('no config')"]
    )
    try:
        with pytest.raises(
            RuntimeError, match=r"gave up starting the sample service:\n(.|\n)*no config"
        ):
            stack.start_service(pool_size=20)
    finally:
        stack.stop()
