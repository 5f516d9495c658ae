"""Intake throughput measured with the shared load generator (../shared/tools/loadgen.py), the
do-nothing baseline in the same run, and the server's CPU per alert.

Run from the project root:

    .venv/bin/python bench/ingest_loadgen.py [--rounds 2] [--duration 10] [--concurrency 32]
        [--keyspace 5000] [--code after=src] [--code before=/tmp/so1-main/src]
        [--so1-env SO1_LOG_LEVEL=warning] [--env-for quiet:SO1_ACCESS_LOG=false]
        [--backend sqlite] [--backend postgres] [--serve-args-for w2:'--workers 2']

Each round starts the baseline (a FastAPI app whose `POST /v1/alerts` does nothing and answers
202, one uvicorn worker) and measures it, then, for each `--code NAME=SRC_DIR` in turn, starts
`so1 serve` with that source tree first on PYTHONPATH (so the same virtualenv serves main's code
and this branch's), on a fresh SQLite file with the triage worker off (SO1_TRIAGE_WORKER=false),
and measures it: loadgen `--mode max`, half the run new alerts and then duplicates once the
keyspace is used. Server CPU is utime+stime from /proc/PID/stat before and after the run.
`--env-for NAME:SO1_X=V` sets a setting for one `--code` only, so two settings of the same code
are measured in the same run (`--code logged=src --code quiet=src --env-for quiet:...`).
`--serve-args-for NAME:ARGS` adds `so1 serve` arguments for one `--code` (1 against 2 server
processes of the same code: `--code w1=src --code w2=src --serve-args-for w2:'--workers 2'`);
the server CPU is then that of the whole process tree, and the connections each process held
halfway through the run are reported. `--backend postgres` (repeatable with sqlite) runs each
server on a throw-away `so1_bench_*` database on SO1_TEST_POSTGRES_URL (bench/api.py's).
To measure main's code, export it first: `git archive main src | tar -x -C /tmp/so1-main`.
Prints one JSON line per measurement and a table; appends them to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import _processes

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
TEMPLATE = ROOT.parent / "shared" / "tools" / "alert_template.json"
RESULTS = ROOT / "bench" / "results"
TICKS = os.sysconf("SC_CLK_TCK")

baseline = FastAPI()


@baseline.post("/v1/alerts", status_code=202)
async def do_nothing(_: Request) -> JSONResponse:
    return JSONResponse({"status": "accepted"}, status_code=202)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} in {seconds} s")


@contextmanager
def running(command: list[str], env: dict[str, str], probe: str) -> Iterator[int]:
    """The server's pid while it runs; stopped (SIGTERM, then SIGKILL) afterwards."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(probe, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def so1_env(source: Path, database: Path | str, extra: list[str]) -> dict[str, str]:
    """``database``: a SQLite file, or a database URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SO1_")}
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    env.update(
        PYTHONPATH=str(source),
        SO1_DATABASE_URL=url,
        SO1_TRIAGE_WORKER="false",
    )
    for setting in extra:
        name, _, value = setting.partition("=")
        env[name] = value
    return env


def write_key(env: dict[str, str]) -> str:
    so1 = [sys.executable, "-c", "from so1.entrypoints.cli import main; main()"]
    subprocess.run([*so1, "db", "upgrade"], env=env, check=True, capture_output=True)
    made = subprocess.run(
        [*so1, "keys", "create", "--name", "bench", "--scopes", "write"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip().splitlines()[-1].strip()


def loadgen_command(url: str, args: argparse.Namespace, token: str | None) -> list[str]:
    command = [
        sys.executable,
        str(LOADGEN),
        "--url",
        url,
        "--template",
        str(TEMPLATE),
        "--mode",
        "max",
        "--concurrency",
        str(args.concurrency),
        "--duration",
        str(args.duration),
        "--max-requests",
        "500000",
        "--keyspace",
        str(args.keyspace),
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    return command


def measured(url: str, pid: int, args: argparse.Namespace, token: str | None) -> dict[str, Any]:
    """The load's result, the server tree's CPU, and the connections each process held
    halfway through."""
    group = _processes.tree(pid)
    port = urlsplit(url).port or 80
    before = _processes.cpu_seconds(group)
    with subprocess.Popen(
        loadgen_command(url, args, token), stdout=subprocess.PIPE, text=True
    ) as loadgen:
        time.sleep(args.duration / 2)
        held = _processes.connections(group, port)
        out, _ = loadgen.communicate()
    spent = _processes.cpu_seconds(group) - before
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["connections_per_process"] = sorted((n for n in held.values() if n), reverse=True)
    ok = sum(n for status, n in result.get("statuses", {}).items() if str(status).startswith("2"))
    result["server_cpu_s"] = round(spent, 2)
    result["server_cpu_ms_per_request"] = round(1000 * spent / ok, 3) if ok else None
    return result


def measure_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.ingest_loadgen:baseline"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = f"http://127.0.0.1:{port}"
    with running(command, env, f"{url}/docs") as pid:
        return measured(f"{url}/v1/alerts", pid, args, None)


@contextmanager
def fresh_database(backend: str) -> Iterator[Path | str]:
    if backend == "postgres":
        from bench.api import postgres_database

        with postgres_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="so1-bench-") as folder:
        yield Path(folder) / "so1.db"


def measure_so1(
    source: Path, args: argparse.Namespace, settings: list[str], serve_args: list[str], backend: str
) -> dict[str, Any]:
    with fresh_database(backend) as database:
        env = so1_env(source, database, [*(args.so1_env or []), *settings])
        token = write_key(env)
        port = free_port()
        command = [sys.executable, "-c", "from so1.entrypoints.cli import main; main()"]
        command += ["serve", "--port", str(port), *serve_args]
        url = f"http://127.0.0.1:{port}"
        with running(command, env, f"{url}/v1/health") as pid:
            wait_for_listeners(pid, port, serve_args)
            return measured(f"{url}/v1/alerts", pid, args, token)


def wait_for_listeners(pid: int, port: int, serve_args: list[str], seconds: float = 60) -> None:
    """With `--workers N` on Linux, until each of the N server processes has its socket (the
    first to answer /v1/health would otherwise get every connection the load opens)."""
    wanted = int(serve_args[serve_args.index("--workers") + 1]) if "--workers" in serve_args else 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        held = _processes.connections(_processes.tree(pid), port, _processes.LISTEN)
        if sum(1 for n in held.values() if n) >= wanted:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {wanted} server processes listening on {port}")


def row(round_no: int, name: str, result: dict[str, Any], base: dict[str, Any]) -> str:
    latency = result.get("latency_ms", {})
    ratio = result["ok_rps"] / base["ok_rps"] if base["ok_rps"] else 0
    return (
        f"| {round_no} | {name} | {result['ok_rps']:,.0f} | {latency.get('50')} | "
        f"{latency.get('99')} | {result['server_cpu_ms_per_request']} | {ratio:.2f} | "
        f"{result.get('statuses')} | {result.get('connections_per_process', '')} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keyspace", type=int, default=5000)
    parser.add_argument("--code", action="append", help="NAME=SRC_DIR (default: after=src)")
    parser.add_argument(
        "--so1-env", action="append", help="SO1_NAME=VALUE for every so1 serve (repeatable)"
    )
    parser.add_argument(
        "--env-for", action="append", help="NAME:SO1_NAME=VALUE for one --code (repeatable)"
    )
    parser.add_argument(
        "--serve-args-for", action="append", help="NAME:ARGS, `so1 serve` arguments for one --code"
    )
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    serve_args_for = {
        name: shlex.split(extra)
        for name, _, extra in (item.partition(":") for item in args.serve_args_for or [])
    }
    settings_for: dict[str, list[str]] = {}
    for item in args.env_for or []:
        name, _, setting = item.partition(":")
        settings_for.setdefault(name, []).append(setting)
    codes = [c.split("=", 1) for c in args.code or [f"after={ROOT / 'src'}"]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    lines = ["| round | server | req/s | p50 ms | p99 ms | CPU ms/req | of baseline | statuses"]
    lines[0] += " | connections per process |"
    lines.append("|---|---|---|---|---|---|---|---|---|")
    with (RESULTS / f"ingest-loadgen-{stamp}.jsonl").open("a") as out:
        for round_no in range(1, args.rounds + 1):
            base = measure_baseline(args)
            lines.append(row(round_no, "baseline (do-nothing FastAPI)", base, base))
            out.write(json.dumps({"round": round_no, "server": "baseline", **base}) + "\n")
            for backend in args.backend or ["sqlite"]:
                for name, source in codes:
                    result = measure_so1(
                        Path(source).resolve(),
                        args,
                        settings_for.get(name, []),
                        serve_args_for.get(name, []),
                        backend,
                    )
                    lines.append(row(round_no, f"so1 serve ({name}, {backend})", result, base))
                    line = {"round": round_no, "server": name, "backend": backend, **result}
                    out.write(json.dumps(line) + "\n")
                    print(json.dumps(line), flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
