"""Running the shared load generator (../shared/tools/loadgen.py) and reading its result.

loadgen prints one JSON line at the end of a run (ok_rps, statuses, errors, latency_ms, ...);
`parse_result` turns it into a `LoadResult`. `Load` says what to run: closed-loop `max` mode
(`concurrency` in flight) or open-loop `rate` mode (`rate` a second, latency counted from the
scheduled send time), with a body template and a keyspace (0: every request a new key; N: keys
cycle over N values, so duplicates once they exist).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
MIXED_TEMPLATE = ROOT.parent / "shared" / "tools" / "alert_template.json"
HERE = Path(__file__).resolve().parent
STORM_TEMPLATE = HERE / "storm_template.json"  # one service: every alert one dependency group
PROBE_TEMPLATE = HERE / "probe_template.json"  # open-loop runs: a service of their own
TIMEOUT_MARGIN = 60.0  # seconds beyond --duration before the run is called hung


class LoadgenError(RuntimeError):
    """loadgen failed or printed no result line."""


@dataclass(frozen=True)
class Load:
    """One loadgen run against `url`."""

    mode: Literal["max", "rate"]
    template: Path
    duration: float
    keyspace: int = 0
    concurrency: int = 32
    rate: float = 0.0
    max_requests: int = 1_000_000
    run_id: str = ""
    timeout: float = 10.0

    def command(self, url: str, token: str | None) -> list[str]:
        cmd = [sys.executable, str(LOADGEN), "--url", url, "--template", str(self.template)]
        cmd += ["--mode", self.mode, "--duration", f"{self.duration:g}"]
        cmd += ["--max-requests", str(self.max_requests), "--keyspace", str(self.keyspace)]
        cmd += ["--timeout", f"{self.timeout:g}"]
        if self.mode == "max":
            cmd += ["--concurrency", str(self.concurrency)]
        else:
            cmd += ["--rate", f"{self.rate:g}", "--connections", str(self.concurrency)]
        if self.run_id:
            cmd += ["--run-id", self.run_id]
        if token:
            cmd += ["--header", f"Authorization: Bearer {token}"]
        return cmd


@dataclass(frozen=True)
class LoadResult:
    """What one run did: requests sent, 2xx answers, everything else, and latency."""

    sent: int
    ok: int
    errors: int
    elapsed_s: float
    ok_rps: float
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int]
    error_kinds: dict[str, int]

    @property
    def all_ok(self) -> bool:
        return self.errors == 0 and self.ok == self.sent


def _latency(found: dict[str, Any], key: str) -> float | None:
    value = found.get(key)
    if value is None or math.isnan(float(value)):  # NaN when nothing completed
        return None
    return float(value)


def parse_result(stdout: str) -> LoadResult:
    """The last JSON line loadgen printed, as a LoadResult; errors = non-2xx + failures."""
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise LoadgenError(f"loadgen printed no result line: {stdout[-300:]!r}")
    found: dict[str, Any] = json.loads(lines[-1])
    statuses = {str(k): int(v) for k, v in found.get("statuses", {}).items()}
    kinds = {str(k): int(v) for k, v in found.get("errors", {}).items()}
    ok = sum(n for code, n in statuses.items() if 200 <= int(code) < 300)
    sent = int(found["sent"])
    failed = sum(statuses.values()) - ok + sum(kinds.values()) + int(found.get("unfinished", 0))
    latency = found.get("latency_ms", {})
    return LoadResult(
        sent=sent,
        ok=ok,
        errors=failed,
        elapsed_s=float(found["elapsed_s"]),
        ok_rps=float(found["ok_rps"]),
        p50_ms=_latency(latency, "50"),
        p99_ms=_latency(latency, "99"),
        statuses=statuses,
        error_kinds=kinds,
    )


def run(load: Load, url: str, token: str | None) -> LoadResult:
    """Run loadgen to its end and parse its result line."""
    done = subprocess.run(
        load.command(url, token),
        capture_output=True,
        text=True,
        check=False,
        timeout=load.duration + load.timeout + TIMEOUT_MARGIN,
    )
    if done.returncode != 0:
        raise LoadgenError(f"loadgen exited {done.returncode}: {done.stderr[-500:]}")
    return parse_result(done.stdout)


def harmonic_mean(rates: list[float]) -> float:
    """Alerts/s of a stream made of equal numbers of each kind of request (0 if any is 0)."""
    if not rates or any(r <= 0 for r in rates):
        return 0.0
    return len(rates) / sum(1 / r for r in rates)
