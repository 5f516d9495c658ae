"""Ingest benchmark: issue 18's figures for `POST /v1/alerts`, measured with the shared load
generator (../shared/tools/loadgen.py) against real servers, the do-nothing baseline included.

Run from the project root (`--quick` shortens every run for a smoke test):

    .venv/bin/python bench/ingest.py [--backend sqlite|postgres|both] [--quick]
        [--duration 10] [--rate-seconds 10] [--concurrency 32] [--keyspace 1000]
        [--storm 10000] [--drain-timeout 300] [--sqlite-workers 2]

Setups, each on a fresh database (a temp SQLite file, or a `so1_bench_<random>` database on
SO1_TEST_POSTGRES_URL, dropped at the end): `so1 serve` with its defaults on SQLite and on
PostgreSQL (triage in its child process; with `--sqlite-workers N`, `so1 serve --workers N` on
SQLite too), and on PostgreSQL the one-machine
topology of docs/scaling.md (`so1 serve --workers 2` with SO1_BACKGROUND=worker, one
`so1 worker`); before each, the do-nothing FastAPI baseline (one uvicorn worker) given the
same loads, printed beside every figure.
Per setup: closed-loop new and duplicate alerts (harmonic mean = an even mix), server CPU per
alert from /proc over the setup's process trees, open-loop p99 at 100/s and 1,000/s, a storm
of 10,000 alerts on one service (time to accept all, errors, incidents created, from the
database), receipt→triage p99 (bench/_triage_probe.py) and the process trees' peak RSS.
Prints one Markdown table with targets; writes bench/results/ingest-<ts>.json and the
servers' output beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import _ingest_table as table, _loadgen, _machine, _servers, api
from bench._loadgen import MIXED_TEMPLATE, PROBE_TEMPLATE, STORM_TEMPLATE, Load, LoadResult
from bench._servers import Running
from bench._triage_probe import Database, figures, receipt_to_triage

STORM_SERVICE = "storm-db"  # the service of bench/storm_template.json
RATES = (100, 1000)


def source_version() -> str:
    """The commit measured, "+dirty" if src/ has uncommitted changes (read-only git calls)."""
    git = ["git", "--no-optional-locks", "-C", str(Path(__file__).resolve().parents[1])]
    out = [
        subprocess.run([*git, *cmd], capture_output=True, text=True, check=False).stdout.strip()
        for cmd in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "--", "src"])
    ]
    return out[0] + ("+dirty" if out[1] else "")


class Runner:
    """Runs the loads of one setup and collects its figures."""

    def __init__(self, server: Running, args: argparse.Namespace, tag: str) -> None:
        self.server, self.args, self.tag = server, args, tag
        self.figures: dict[str, Any] = {}
        self.raw: dict[str, Any] = {}

    def load(self, name: str, load: Load) -> LoadResult:
        found = _loadgen.run(load, self.server.alerts_url, self.server.token)
        self.raw[name] = found.__dict__
        return found

    def closed(self, name: str, template: Path, keyspace: int, **kw: Any) -> LoadResult:
        kw.setdefault("duration", self.args.duration)
        load = Load("max", template, keyspace=keyspace, concurrency=self.args.concurrency, **kw)
        return self.load(name, Load(**{**load.__dict__, "run_id": f"{self.tag}-{name}"}))

    def open_loop(self, rate: int) -> LoadResult:
        load = Load("rate", PROBE_TEMPLATE, self.args.rate_seconds, rate=rate, concurrency=64)
        return self.load(f"rate{rate}", Load(**{**load.__dict__, "run_id": f"{self.tag}-r{rate}"}))

    def mixed(self) -> tuple[LoadResult, LoadResult]:
        new = self.closed("new", MIXED_TEMPLATE, 0)
        dup = self.closed("dup", MIXED_TEMPLATE, self.args.keyspace)
        self.figures.update(
            new_rps=new.ok_rps,
            dup_rps=dup.ok_rps,
            mixed_rps=round(_loadgen.harmonic_mean([new.ok_rps, dup.ok_rps])),
            mixed_p99_ms=max(new.p99_ms or 0, dup.p99_ms or 0) or None,
            mixed_errors=new.errors + dup.errors,
        )
        return new, dup

    def rate(self, rate: int) -> None:
        found = self.open_loop(rate)
        self.figures[f"rate{rate}_p99_ms"] = found.p99_ms
        self.figures[f"rate{rate}_rps"] = found.ok_rps
        self.figures[f"rate{rate}_errors"] = found.errors

    def storm(self) -> LoadResult:
        found = self.closed(
            "storm", STORM_TEMPLATE, 0, duration=self.args.storm_cap, max_requests=self.args.storm
        )
        self.figures.update(storm_s=found.elapsed_s, storm_errors=found.errors)
        self.figures["storm_sent"] = found.sent
        return found


def cpu_ms(seconds: float, alerts: int) -> float | None:
    return round(1000 * seconds / alerts, 3) if alerts else None


def measure_baseline(server: Running, args: argparse.Namespace) -> dict[str, Any]:
    run = Runner(server, args, "base")
    run.closed("warm", MIXED_TEMPLATE, args.keyspace, max_requests=args.keyspace)
    cpu = server.cpu_seconds()
    new, dup = run.mixed()
    run.figures["cpu_ms_load"] = cpu_ms(server.cpu_seconds() - cpu, new.ok + dup.ok)
    for rate in RATES:
        run.rate(rate)
    run.storm()
    return {"figures": run.figures, "loads": run.raw}


def triage_p99(db: Database, runner: Runner, name: str, go: Callable[[], object]) -> None:
    """Run `go` under a Watch; receipt→triage of the alerts first seen while it ran."""
    since, watch = time.time(), db.watch()
    go()
    until = time.time()
    runner.figures[f"drain_{name}_s"] = watch.finish(runner.args.drain_timeout)
    stored = db.received_between(since, until)
    found = figures(receipt_to_triage(watch.received, watch.decided_at))
    found["stored_in_window"] = len(stored)
    found["not_seen_decided"] = len(set(stored) - set(watch.decided_at))
    runner.raw[f"triage_{name}"] = found
    runner.figures[f"triage_{name}_p99_ms"] = found["p99_ms"]
    missed = runner.figures.get("triage_missed", 0) + found["not_seen_decided"]
    runner.figures["triage_missed"] = missed


def measure_so1(server: Running, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    assert server.database_url is not None
    db, run = Database(server.database_url), Runner(server, args, tag)
    try:
        run.closed("warm", MIXED_TEMPLATE, args.keyspace, max_requests=args.keyspace)
        db.drain(args.drain_timeout)  # the duplicate keyspace exists and is triaged
        cpu, done = server.cpu_seconds(), list[LoadResult]()

        def mixed() -> None:
            done.extend(run.mixed())
            run.figures["cpu_ms_load"] = cpu_ms(server.cpu_seconds() - cpu, count_ok(done))

        triage_p99(db, run, "mixed", mixed)
        run.figures["cpu_ms_drained"] = cpu_ms(server.cpu_seconds() - cpu, count_ok(done))
        for rate in RATES:
            triage_p99(db, run, str(rate), partial(run.rate, rate))
        incidents = db.incidents()
        run.storm()
        run.figures["drain_storm_s"] = db.drain(args.drain_timeout)
        stored, joined = db.alerts_of(STORM_SERVICE)
        run.figures.update(storm_missing=args.storm - stored, storm_joined=joined)
        run.figures["storm_incidents"] = db.incidents() - incidents
    finally:
        db.close()
    return {"figures": run.figures, "loads": run.raw}


def count_ok(results: list[LoadResult]) -> int:
    return sum(r.ok for r in results)


def tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback (most recent")


Setup = tuple[str, Callable[[], AbstractContextManager[str]], int, bool]


def setups(backend: str, sqlite_workers: list[int], postgres_workers: list[int]) -> Iterator[Setup]:
    """(table name, database factory, `so1 serve --workers`, the one-machine topology) per
    so1 setup of `backend`."""
    if backend in ("sqlite", "both"):
        yield table.SQLITE, api.sqlite_database, 1, False
        for workers in sqlite_workers:
            yield f"{table.SQLITE} --workers {workers}", api.sqlite_database, workers, False
    if backend in ("postgres", "both"):
        yield table.POSTGRES, api.postgres_database, 1, False
        for workers in postgres_workers:
            yield f"{table.POSTGRES} --workers {workers}", api.postgres_database, workers, False
        yield table.ONE_MACHINE, api.postgres_database, 2, True


def baseline_now(args: argparse.Namespace, log: Path) -> dict[str, Any]:
    """The do-nothing baseline given the same loads, just before a setup is measured."""
    with _machine.Watch() as machine, _servers.baseline(log) as server:
        server.sample_rss()
        found = measure_baseline(server, args)
        found["figures"]["rss_mb"] = round(server.peak_rss_mb)
    return with_machine(found, machine)


def with_machine(found: dict[str, Any], machine: _machine.Watch) -> dict[str, Any]:
    """`found` with how busy the machine was: steal and the longest pause in the figures,
    each pause of a second or more (when it ended, how long) beside them."""
    seen = machine.figures()
    found["long_pauses"] = seen.pop("long_pauses")
    found["figures"].update(seen)
    return found


def share_of_baseline(figures: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """The setup's mixed alerts/s as a share of the baseline's mixed requests/s."""
    mine, base = figures.get("mixed_rps"), baseline.get("mixed_rps")
    return round(mine / base, 3) if mine and base else None


def measure_all(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    """Per so1 setup: the baseline, then the setup, on a fresh database."""
    found: dict[str, Any] = {}
    for n, (name, database, workers, topology) in enumerate(
        setups(args.backend, args.sqlite_workers or [], args.postgres_workers or [])
    ):
        base = baseline_now(args, api.RESULTS_DIR / f"ingest-{stamp}-{n}-baseline.log")
        log = api.RESULTS_DIR / f"ingest-{stamp}-{n}.log"
        with (
            _machine.Watch() as machine,
            database() as url,
            _servers.so1_serve(url, log, workers, topology=topology) as server,
        ):
            server.sample_rss()
            found[name] = measure_so1(server, args, f"s{n}")
            found[name]["figures"]["rss_mb"] = round(server.peak_rss_mb)
            found[name]["figures"]["tracebacks"] = during = tracebacks(log)
        with_machine(found[name], machine)
        found[name]["figures"]["mixed_share"] = share_of_baseline(
            found[name]["figures"], base["figures"]
        )
        found[name].update(baseline=base, log=str(log))
        found[name]["tracebacks_at_stop"] = tracebacks(log) - during
        print(f"measured {name}", file=sys.stderr, flush=True)
    return found


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--backend", choices=["sqlite", "postgres", "both"], default="both")
    add(
        "--sqlite-workers",
        type=int,
        action="append",
        help="also measure `so1 serve --workers N` on SQLite (repeatable)",
    )
    add(
        "--postgres-workers",
        type=int,
        action="append",
        help="also measure `so1 serve --workers N` on PostgreSQL, triage in its child (repeatable)",
    )
    add("--quick", action="store_true", help="3 s runs and a 1,000-alert storm: a smoke run")
    add("--duration", type=float, help="each closed-loop run, s (default 10)")
    add("--rate-seconds", type=float, help="each open-loop run, s (default 10)")
    add("--concurrency", type=int, default=32, help="closed-loop connections (default 32)")
    add("--keyspace", type=int, default=1000, help="keys of the duplicate run (default 1000)")
    add("--storm", type=int, help="storm alerts (default 10000)")
    add("--storm-cap", type=float, default=120.0, help="the storm's time bound, s (default 120)")
    add("--drain-timeout", type=float, default=300.0, help="bound on waiting for triage, s")
    args = parser.parse_args()
    for name, full, quick in (("duration", 10.0, 3.0), ("rate_seconds", 10.0, 3.0)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.storm is None:
        args.storm = 1000 if args.quick else 10_000
    if min(args.concurrency, args.keyspace, args.storm) < 1 or args.duration <= 0:
        parser.error("--concurrency, --keyspace, --storm must be >= 1; durations > 0")
    return args


def main() -> None:
    args = parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    api.RESULTS_DIR.mkdir(exist_ok=True)
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, source {source_version()}"
    speed = _machine.reference_loop_ms()
    print(
        f"{started}; load average at start {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs;"
        f" reference loop {speed} ms (bench/_machine.py)"
    )
    found = measure_all(args, stamp)
    rows = [
        row
        for name, got in found.items()
        for row in table.rows(name, got["figures"], got["baseline"]["figures"])
    ]
    print(table.markdown(rows))
    failed = table.failures(rows)
    print(f"\n{len(failed)} of {sum(1 for r in rows if r.verdict)} targets not met")
    path = api.RESULTS_DIR / f"ingest-{stamp}.json"
    report = {"started": started, "reference_loop_ms": speed, "settings": vars(args)}
    report["setups"] = found
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {path} (server output beside it)")


if __name__ == "__main__":
    main()
