"""Webhook intake measured with the shared load generator: `POST /v1/webhooks/alertmanager`
(one firing alert a delivery, fingerprints cycling over the keyspace), and the server's CPU
per request, for each source tree given.

Run from the project root:

    .venv/bin/python bench/webhook_loadgen.py [--rounds 2] [--duration 10] [--concurrency 32]
        [--keyspace 5000] [--code after=src] [--code before=/tmp/so1-main/src]

Like bench/ingest_loadgen.py (whose helpers it uses): `so1 serve` on a fresh SQLite file with
the triage worker off, that source tree first on PYTHONPATH, an Alertmanager integration
added before the server starts; loadgen `--mode max`. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.ingest_loadgen import LOADGEN, ROOT, cpu_seconds, free_port, running, so1_env

TEMPLATE = ROOT / "bench" / "alertmanager_template.json"
SO1 = [sys.executable, "-c", "from so1.entrypoints.cli import main; main()"]
ADD_INTEGRATION = """
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
c = build_container(Settings())
added = integrations.add_integration(
    c.uow, c.clock, Actor("bench"), AlertSource.ALERTMANAGER, "bench", None
)
print(added.secret)
"""


def alertmanager_token(env: dict[str, str]) -> str:
    subprocess.run([*SO1, "db", "upgrade"], env=env, check=True, capture_output=True)
    made = subprocess.run(
        [sys.executable, "-c", ADD_INTEGRATION], env=env, check=True, capture_output=True, text=True
    )
    return made.stdout.strip().splitlines()[-1]


def load(url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(LOADGEN), "--url", url, "--template", str(TEMPLATE)]
    command += ["--mode", "max", "--concurrency", str(args.concurrency)]
    command += ["--duration", str(args.duration), "--max-requests", "500000"]
    command += ["--keyspace", str(args.keyspace), "--header", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(name: str, source: Path, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="so1-bench-") as folder:
        env = so1_env(source, Path(folder) / "so1.db", [])
        token = alertmanager_token(env)
        url = f"http://127.0.0.1:{free_port()}"
        with running(
            [*SO1, "serve", "--port", url.rsplit(":", 1)[1]], env, f"{url}/v1/health"
        ) as pid:
            before = cpu_seconds(pid)
            result = load(f"{url}/v1/webhooks/alertmanager", token, args)
            spent = cpu_seconds(pid) - before
    ok = sum(n for status, n in result.get("statuses", {}).items() if str(status).startswith("2"))
    return {
        "code": name,
        "ok_rps": result.get("ok_rps"),
        "statuses": result.get("statuses"),
        "latency_ms": result.get("latency_ms"),
        "server_cpu_ms_per_request": round(1000 * spent / ok, 3) if ok else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keyspace", type=int, default=5000)
    parser.add_argument("--code", action="append", help="NAME=SRC_DIR (default: after=src)")
    args = parser.parse_args()
    codes = [c.partition("=")[::2] for c in args.code or ["after=src"]]
    for round_no in range(1, args.rounds + 1):
        for name, source in codes:
            result = measure(name, Path(source).resolve(), args)
            print(json.dumps({"round": round_no, **result}), flush=True)


if __name__ == "__main__":
    main()
