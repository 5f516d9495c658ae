"""Ingest benchmark: POST /v1/alerts on a real server with the triage worker on, against a
do-nothing POST route (parses the JSON, answers 202) in the same server as the baseline.

Run from the project root (`--quick` shrinks every scenario for a smoke run):

    .venv/bin/python bench/ingest.py [--backend sqlite|postgres|both] [--quick] [--stand-in]
        [--concurrency 32] [--clients 4] [--workers 1] [--soak MINUTES] [--large-table ROWS]

Per backend it starts `bench/ingest.py --serve` (bench/api.py's launcher: one uvicorn worker
on loopback, a temp SQLite file or a fresh `so1_bench_<random>` PostgreSQL database on
SO1_TEST_POSTGRES_URL, dropped at the end) and drives it from spawned client processes
(bench/_load.py). Scenarios: a sustained throughput, b fixed-rate latency, c storm, d receipt
to triage latency, e server RSS (sampled every second; slope under --soak), f --large-table
prefill then a again. Prints a table per backend; writes bench/results/ingest-<ts>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, create_engine, text

from so1.agents.registry import Agents, default_agents
from so1.agents.triage import TriageInput, TriageReport
from so1.agents.triage.contract import Hypothesis, Impact
from so1.domain.records import AgentName
from so1.domain.severity import Severity
from so1.domain.triage import Classification, Escalation, TriageStatus

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import _load, api

TRIAGE = AgentName.TRIAGE
ALERTS = "/v1/alerts"
STAND_IN_ENV = "BENCH_STAND_IN"
STAND_IN_REPORT = TriageReport(  # what apply_report needs to declare a SEV2 incident
    severity=Severity.SEV2,
    confidence=0.9,
    classification=Classification.INCIDENT,
    impact=Impact(None, ()),
    hypotheses=(Hypothesis("unknown", 0.9, ("bench stand-in",), ()),),
    escalation=Escalation.STANDARD,
    status=TriageStatus.COMPLETED,
    incident_id=None,
    rationale=("stand-in",),
)
SERVICES = tuple(f"svc-{n:02d}" for n in range(20))
STORM_DB = "storm-db"
STORM_SERVICES = (STORM_DB, *(f"storm-api-{n:02d}" for n in range(19)))
TRIAGE_SERVICES = tuple(f"tri-{n:02d}" for n in range(20))
STORM_CAP = 180.0  # seconds: the storm runs to its end even on a slow server
DURABILITY = (
    "POST /v1/alerts answers 202 only after intake.ingest has committed the delivery and the "
    "alert (src/so1/services/intake/deliveries.py); this benchmark kills nothing to demonstrate it."
)


class StandInTriage:
    """Used with --stand-in instead of the registry's triage-responder."""

    name: str = TRIAGE

    def run(self, inputs: TriageInput) -> TriageReport:  # noqa: ARG002
        return STAND_IN_REPORT


def agents() -> tuple[Agents, bool]:
    stand_in = os.environ.get(STAND_IN_ENV) == "1"
    found = default_agents()
    return (replace(found, triage=StandInTriage()) if stand_in else found), stand_in


async def noop_post(event: dict[str, Any]) -> JSONResponse:
    """Baseline: FastAPI parses the JSON body; async like POST /v1/alerts, no database."""
    payload = {"alert_id": None, "dedup_key": event.get("dedup_key"), "status": "firing"}
    return JSONResponse({**payload, "dedup_count": 1, "outcome": "created"}, status_code=202)


def serve() -> None:
    def setup(app: FastAPI) -> None:
        app.add_api_route("/bench/noop", noop_post, methods=["POST"], status_code=202)

    api.serve(agents()[0], setup)


def source_version() -> str:
    """The commit measured, "+dirty" if src/ has uncommitted changes (read-only git calls)."""
    git = ["git", "--no-optional-locks", "-C", str(Path(__file__).resolve().parents[1])]
    out = [
        subprocess.run([*git, *cmd], capture_output=True, text=True, check=False).stdout.strip()
        for cmd in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "--", "src"])
    ]
    return out[0] + ("+dirty" if out[1] else "")


def ms(done: list[float], pct: float) -> float:
    return round(api.percentile(done, pct) * 1000, 2)


class Bench:
    """One running server: load runs, RSS sampling, the triage backlog, API totals."""

    def __init__(self, server: api.Server, url: str, args: argparse.Namespace) -> None:
        self.server, self.args, self.phase = server, args, "setup"
        parts = urlsplit(server.base_url)
        self.target = (parts.hostname or api.LOOPBACK, parts.port or 80, server.key)
        headers = {"Authorization": f"Bearer {server.key}"}
        self.http = httpx.Client(base_url=server.base_url, headers=headers, timeout=30)
        self.db: Engine = create_engine(url)
        self.rss: list[tuple[float, float, str]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def close(self) -> None:
        self._stop.set()
        self._sampler.join(timeout=5)
        self.http.close()
        self.db.dispose()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            found = [_load.rss_mb(pid) for pid in api.process_tree(self.server.pid)]
            if sizes := [mb for mb in found if mb is not None]:  # the whole server, all workers
                self.rss.append((time.monotonic(), sum(sizes), self.phase))

    def load(self, plan: _load.Plan, samples: Any = None) -> dict[str, Any]:
        cpu = api.cpu_seconds(self.server.pid)
        out = _load.run(*self.target, plan, self.args.concurrency, self.args.clients, samples)
        after = api.cpu_seconds(self.server.pid)
        secs, done = max(out.seconds, 1e-9), sorted(out.latencies)
        server_cpu = None if cpu is None or after is None else round(100 * (after - cpu) / secs)
        return {
            **{"sent": out.sent, "ok": out.ok, "errors": out.errors, "seconds": round(secs, 2)},
            **{"unsent": plan.count - out.sent, "rps": round(out.ok / secs, 1)},
            **{"p50_ms": ms(done, 50), "p99_ms": ms(done, 99), "late_sends": out.late},
            **{"max_lag_ms": round(out.max_lag * 1000, 1), "first_error": out.first_error},
            **{"client_cpu_pct": round(100 * out.client_cpu / secs), "server_cpu_pct": server_cpu},
        }

    def closed(self, path: str, count: int, cap: float = 0, **kw: Any) -> dict[str, Any]:
        return self.load(_load.Plan(path, count, cap or self.args.cap, **kw))

    def open(self, rate: float, path: str = ALERTS, q: Any = None, **kw: Any) -> dict[str, Any]:
        seconds = kw.pop("seconds", self.args.rate_seconds)
        count = max(1, int(rate * seconds))
        return self.load(_load.Plan(path, count, count / rate, rate=rate, **kw), q)

    def backlog(self) -> int:
        """Alerts the worker has not finished (the API does not expose triage_state)."""
        sql = "SELECT count(*) FROM alerts WHERE triage_state IN ('pending', 'processing')"
        with self.db.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def drain(self) -> float | None:
        """Seconds until the triage backlog is empty; None if not within --drain-timeout."""
        start = time.monotonic()
        while time.monotonic() - start < self.args.drain_timeout:
            if self.backlog() == 0:
                return round(time.monotonic() - start, 1)
            time.sleep(0.25)
        return None

    def total(self, path: str) -> int:
        return int(self.http.get(path, params={"limit": 1}).raise_for_status().json()["total"])

    def put_catalog(self) -> None:
        """All storm services depend on one database, so correlation sees one group."""
        for name in STORM_SERVICES:
            deps = [] if name == STORM_DB else [STORM_DB]
            body = {"tier": "critical" if name == STORM_DB else "high", "dependencies": deps}
            self.http.put(f"/v1/services/{name}", json=body).raise_for_status()


def triage_latency(bench: Bench, rate: float) -> dict[str, Any]:
    every = max(1, int(rate * bench.args.rate_seconds) // 100)  # about 100 samples
    samples, pending, seen = _load.CTX.Queue(), dict[str, float](), list[float]()

    def triaged(alert_id: str) -> bool:
        alert = bench.http.get(f"/v1/alerts/{alert_id}").json()
        return bool(alert.get("incident_id")) or alert.get("status") != "firing"

    wait = (samples, pending, seen, triaged, bench.args.drain_timeout)
    poller = threading.Thread(target=_load.poll_samples, args=wait)
    poller.start()
    try:
        kw: dict[str, Any] = {"keys": "unique", "services": TRIAGE_SERVICES, "tag": "tri"}
        figures = bench.open(rate, q=samples, sample_every=every, **kw)
    finally:
        samples.put((None, 0.0))
        poller.join()
    done = sorted(seen)
    return {
        **figures,
        **{"sampled": len(done) + len(pending), "unseen": len(pending)},
        **{"triage_p50_ms": ms(done, 50), "triage_p99_ms": ms(done, 99), "poll_s": _load.POLL_S},
    }


def storm(bench: Bench, count: int) -> dict[str, Any]:
    alerts, incidents = bench.total(ALERTS), bench.total("/v1/incidents")
    kw: dict[str, Any] = {"keys": "unique", "services": STORM_SERVICES, "tag": "st"}
    figures = bench.closed(ALERTS, count, max(bench.args.cap, STORM_CAP), **kw)
    drain = bench.drain()
    stored = bench.total(ALERTS) - alerts
    figures.update(stored=stored, dropped=figures["sent"] - stored, drain_s=drain)
    return {**figures, "incidents": bench.total("/v1/incidents") - incidents}


def prefill(url: str, engine: Engine, rows: int) -> float:
    """Bulk-insert `rows` resolved alerts (distinct keys, a month old) straight into the table."""
    start, raw = time.monotonic(), engine.raw_connection()
    try:
        _load.prefill(raw, url.startswith("sqlite"), rows, SERVICES)
    finally:
        raw.close()
    return round(time.monotonic() - start, 1)


def scenarios(bench: Bench, url: str, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {}
    bench.put_catalog()
    bench.closed("/bench/noop", 300, tag="warm")
    bench.closed(ALERTS, 300, tag="warm", services=SERVICES)
    bench.drain()
    bench.phase = "a"
    res["baseline"] = bench.closed("/bench/noop", args.requests, services=SERVICES)
    res["sustained"] = bench.closed(ALERTS, args.requests, services=SERVICES)
    res["sustained"]["drain_s"] = bench.drain()
    bench.phase = "b"
    for rate in (100, 1000):
        res[f"noop_{rate}"] = bench.open(rate, "/bench/noop", services=SERVICES)
        res[f"rate_{rate}"] = bench.open(rate, services=SERVICES, tag=f"r{rate}")
        res[f"rate_{rate}"]["drain_s"] = bench.drain()
    bench.phase = "c"
    res["storm"] = storm(bench, args.storm)
    bench.phase = "d"
    res["triage"] = triage_latency(bench, 200)
    res["triage"]["drain_s"] = bench.drain()
    if args.soak:
        bench.phase = "soak"
        res["soak"] = bench.open(500, services=SERVICES, tag="soak", seconds=args.soak * 60)
        points = [(t, mb) for t, mb, phase in bench.rss if phase == "soak"]
        res["soak"]["rss_slope_mb_per_min"] = _load.slope(points[len(points) // 5 :])
        res["soak"]["drain_s"] = bench.drain()
    if args.large_table:
        bench.phase = "f"
        seconds = prefill(url, bench.db, args.large_table)
        res["large"] = bench.closed(ALERTS, args.requests, services=SERVICES, tag="big")
        pct = round(100 * res["large"]["rps"] / res["sustained"]["rps"], 1)
        res["large"].update(rows=args.large_table, prefill_s=seconds, pct_of_empty=pct)
    return res


def run_backend(url: str, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    with log.open("w") as err, api.running_server(url, Path(__file__).resolve(), err) as server:
        bench = Bench(server, url, args)
        try:
            res = scenarios(bench, url, args)
        finally:
            bench.close()
    text = log.read_text()
    res["server_log"] = {"path": str(log), "tracebacks": text.count("Traceback (most recent")}
    res["server_log"]["deadlocks"] = text.count("DeadlockDetected: deadlock detected")
    by_phase: dict[str, float] = {}
    for _, mb, phase in bench.rss:
        by_phase[phase] = round(max(by_phase.get(phase, 0.0), mb), 1)
    res["memory"] = {"max_rss_mb": max(by_phase.values(), default=None), "by_phase": by_phase}
    return res


def rows(r: dict[str, Any], args: argparse.Namespace) -> list[_load.Row]:
    """(figure, value, target, ratio to the baseline, target met) per line of the table."""
    out: list[_load.Row] = []

    def add(
        label: str, value: str, target: str = "", rel: str = "", ok: bool | None = None
    ) -> None:
        out.append((label, value, target, rel, "" if ok is None else "yes" if ok else "NO"))

    def lat(x: dict[str, Any]) -> str:
        return f"{x['p50_ms']:.1f} / {x['p99_ms']:.1f}"

    def ratio(value: float, base: float) -> str:
        return f"{value / base:.3f}" if base else ""

    base, a, c, d = r["baseline"], r["sustained"], r["storm"], r["triage"]
    add("baseline POST /bench/noop req/s", f"{base['rps']:.0f}", "", "1.000")
    add("baseline p50 / p99 ms", lat(base))
    add("baseline CPU % client / server", f"{base['client_cpu_pct']} / {base['server_cpu_pct']}")
    add("a sustained alerts/s", f"{a['rps']:.0f}", ">= 2000", ratio(a["rps"], base["rps"]),
        a["rps"] >= 2000)  # fmt: skip
    add("a p50 / p99 ms", lat(a), "", ratio(a["p50_ms"], base["p50_ms"]))
    add("a errors / sent (cap stops at)", f"{a['errors']} / {a['sent']}", "0", "", a["errors"] == 0)
    add("a CPU % client / server", f"{a['client_cpu_pct']} / {a['server_cpu_pct']}")
    add("a then worker backlog drained in s", str(a["drain_s"]))
    for rate, target in ((100, 20), (1000, 100)):
        x, nb = r[f"rate_{rate}"], r[f"noop_{rate}"]
        ok = x["p99_ms"] <= target and x["errors"] == 0 and x["rps"] >= 0.95 * rate
        add(f"b {rate}/s p50 / p99 ms", lat(x), f"p99 <= {target}",
            ratio(x["p99_ms"], nb["p99_ms"]), ok)  # fmt: skip
        add(f"b {rate}/s baseline p50 / p99 ms", lat(nb))
        add(
            f"b {rate}/s achieved/s, errors, unsent",
            f"{x['rps']:.0f}, {x['errors']}, {x['unsent']}",
        )
        add(
            f"b {rate}/s client late sends, max lag ms", f"{x['late_sends']}, {x['max_lag_ms']:.0f}"
        )
    add(f"c storm: {c['sent']} of {args.storm} sent in s", f"{c['seconds']:.1f}", "<= 5", "",
        c["seconds"] <= 5 and c["sent"] == args.storm)  # fmt: skip
    add("c storm alerts/s", f"{c['rps']:.0f}", "", ratio(c["rps"], base["rps"]))
    add("c storm errors / dropped", f"{c['errors']} / {c['dropped']}", "0 / 0", "",
        c["errors"] == c["dropped"] == 0)  # fmt: skip
    add("c storm stored / new incidents", f"{c['stored']} / {c['incidents']}", "1 incident", "",
        c["incidents"] == 1)  # fmt: skip
    add("c storm worker drained in s (after sending)", str(c["drain_s"]))
    tri = f"{d['triage_p50_ms']:.0f} / {d['triage_p99_ms']:.0f}"
    ok = d["triage_p99_ms"] <= 1000 and not d["unseen"]
    add("d 202->triage visible p50 / p99 ms", tri, "p99 <= 1000", "", ok)
    add("d sampled / never seen triaged", f"{d['sampled']} / {d['unseen']}")
    add("d at 200/s: ingest p99 ms, errors", f"{d['p99_ms']:.1f}, {d['errors']}")
    logged = r["server_log"]
    add("server log: tracebacks (deadlocks)", f"{logged['tracebacks']} ({logged['deadlocks']})")
    max_rss = r["memory"]["max_rss_mb"]
    add("e server RSS max MB", str(max_rss), "<= 200", "", max_rss is not None and max_rss <= 200)
    if s := r.get("soak"):
        add(f"e soak {args.soak:g} min @500/s: RSS MB/min", str(s["rss_slope_mb_per_min"]), "flat")
        add(
            "e soak achieved/s, p99 ms, errors", f"{s['rps']:.0f}, {s['p99_ms']:.1f}, {s['errors']}"
        )
    if f := r.get("large"):
        add(f"f {f['rows']:,} rows: alerts/s (% of a)", f"{f['rps']:.0f} ({f['pct_of_empty']}%)",
            ">= 80%", ratio(f["rps"], base["rps"]), f["pct_of_empty"] >= 80)  # fmt: skip
        add("f bulk prefill took s", str(f["prefill_s"]))
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--backend", choices=["sqlite", "postgres", "both"], default="both")
    add("--quick", action="store_true", help="small sizes: a smoke run of every scenario")
    add("--stand-in", action="store_true", help="fixed-SEV2 stand-in even if a triage agent exists")
    add("--concurrency", type=int, default=32, help="connections (default 32)")
    add("--clients", type=int, default=4, help="client processes (default 4)")
    add("--requests", type=int, help="scenario a, per endpoint (default 20000; quick 2000)")
    add("--cap", type=float, default=60.0, help="time cap of a closed-loop run, s (default 60)")
    add("--rate-seconds", type=float, help="length of each b and d run (default 10; quick 3)")
    add("--storm", type=int, help="storm alerts (default 10000; quick 1000)")
    add(
        "--drain-timeout",
        type=float,
        help="bound on waiting for the worker (default 300; quick 60)",
    )
    add("--soak", type=float, default=0, help="minutes at 500 alerts/s (default off; 10 real)")
    add("--large-table", type=int, default=0, help="prefill rows (default off; 1000000 real)")
    add("--workers", type=int, default=1, help="server processes on one socket (default 1)")
    add("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = {"requests": (20_000, 2_000), "rate_seconds": (10.0, 3.0), "storm": (10_000, 1_000)}
    for name, (full, quick) in {**sizes, "drain_timeout": (300.0, 60.0)}.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if not 1 <= args.concurrency <= 512 or min(args.clients, args.requests, args.storm) < 1:
        parser.error("--concurrency must be 1..512; --clients, --requests, --storm >= 1")
    return args


def main() -> None:
    args = parse_args()
    if args.serve:
        serve()
        return
    if args.stand_in:
        os.environ[STAND_IN_ENV] = "1"  # inherited by the server process
    os.environ[api.WORKERS_ENV] = str(args.workers)
    stand_in = agents()[1]
    agent = "stand-in agent (fixed SEV2 report)" if stand_in else "the registry's agent"
    print(f"source {source_version()}; load average at start {os.getloadavg()[0]:.2f}")
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k != "serve"},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "loadavg_at_start": os.getloadavg(),
        "git": source_version(),
        **{"triage_agent": agent, "durability": DURABILITY, "backends": {}},
    }
    databases = {"sqlite": api.sqlite_database, "postgres": api.postgres_database}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    api.RESULTS_DIR.mkdir(exist_ok=True)
    for backend in list(databases) if args.backend == "both" else [args.backend]:
        log = api.RESULTS_DIR / f"ingest-{stamp}-{backend}-server.log"
        with databases[backend]() as url:
            report["backends"][backend] = result = run_backend(url, args, log)
        conc = f"concurrency {args.concurrency} over {args.clients} client processes"
        conc += f"; {args.workers} server process{'es' if args.workers > 1 else ''}"
        _load.print_table(f"{backend}  ({conc}; triage worker on, {agent})", rows(result, args))
    print(f"\ng durability: {DURABILITY}")
    if stand_in:
        print(f"note: the server's {TRIAGE} was the bench stand-in, not so1.agents.registry's.")
    path = api.RESULTS_DIR / f"ingest-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {path} (server logs beside it)")


if __name__ == "__main__":
    main()
