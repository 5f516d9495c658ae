"""Intake with a large alerts table: the writer's rate with --rows stored alerts on
PostgreSQL against its rate on an empty table, in the same run (issue 18: at least 0.80).

Run from the project root:

    .venv/bin/python -m bench.large_table [--rows 10000000] [--rounds 2]
        [--code this=src --code main=/work/main/src]

Two fresh databases are migrated (the ``--code`` given: each runs in its own process with
that ``src`` first on the path, so main's unpartitioned schema can be measured beside this
one). One is filled with --rows alerts by INSERT ... SELECT generate_series (its indexes
dropped first and rebuilt after, then VACUUM ANALYZE), spread over --weeks weeks ending a
week ago (each week its partition where the table is partitioned), all resolved but
--open of them. Then, round after round, each database takes the same work measured by
bench/ingest_writer.py's ``cpu_ms_per_alert`` (--alerts events in batches of 32 through
``intake.ingest_batch``; keys cycle over --keyspace, half new, half duplicates; every
measurement has keys of its own), the two databases in turn, the first alternating from
round to round. Printed per round: alerts/s (wall clock, the server's work included), the
writer's CPU ms per alert, PostgreSQL's (its backends on that database, autovacuum's
included, from /proc: less noisy on a shared machine) and the ratios large/empty (for CPU,
empty/large, so that above 1 is better for both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

from bench.ingest_writer import TEMPLATE, Batch, cpu_ms_per_alert, database
from so1.adapters.db import migrate
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.alerts import AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.entrypoints.api.alert_checks import accepted_alert, parsed_json
from so1.entrypoints.api.routes.alerts import alert_event

ROOT = Path(__file__).resolve().parents[1]
FILL_CHUNK = 1_000_000


def work(container: Container, args: argparse.Namespace, prefix: str) -> list[Batch]:
    """bench/ingest_writer.py's batches, with keys of this measurement's own."""
    template = TEMPLATE.read_text().replace("{{uniq}}", prefix + "-{{uniq}}")
    built: list[Batch] = []
    for first in range(0, args.alerts, args.batch):
        batch: Batch = []
        for n in range(first, min(first + args.batch, args.alerts)):
            raw = template.replace("{{uniq}}", str(n % args.keyspace)).encode()
            checked = accepted_alert(parsed_json(raw) or {})
            assert checked is not None, "the alert template no longer passes the lean checks"
            at = container.clock.now()
            delivery = Delivery(AlertSource.EVENTS, at, {}, raw, DeliveryOutcome.ACCEPTED)
            batch.append((delivery, ParsedDelivery(events=[alert_event(checked)])))
        built.append(batch)
    return built


def partitioned(conn: Connection) -> bool:
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'alerts'"))
    return str(kind.scalar_one()) == "p"


FILL = """
INSERT INTO alerts (id, source, dedup_key, status, summary, service, labels, details, is_test,
    dedup_count, flap_count, first_seen_at, last_seen_at, resolved_at, triage_state{stored})
SELECT 'alt_fill' || lpad(i::text, 12, '0'), 'events', 'fill-' || (i % :identities),
    CASE WHEN i < :open THEN 'firing' ELSE 'resolved' END, 'prefilled', 'svc-' || (i % 50),
    '{{"origin": "bench"}}'::jsonb, '{{}}'::jsonb, false, 1, 0, t, t,
    CASE WHEN i < :open THEN NULL ELSE t + interval '5 minutes' END, 'done'{stored_value}
FROM (SELECT i, CAST(:newest AS timestamptz) - i * CAST(:step AS interval) AS t
      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS i) AS s
"""


KEY_TABLES = (
    "INSERT INTO alert_open_keys SELECT source, dedup_key, id, stored_at FROM alerts"
    " WHERE status <> 'resolved'",
    "INSERT INTO alert_last_resolved SELECT DISTINCT ON (source, dedup_key) source, dedup_key,"
    " id, stored_at, resolved_at FROM alerts WHERE status = 'resolved'"
    " ORDER BY source, dedup_key, resolved_at DESC",
)


def fill(url: str, args: argparse.Namespace) -> float:
    """Store --rows alerts; the seconds it took."""
    started = time.perf_counter()
    newest = datetime.now(UTC) - timedelta(weeks=1)
    span = timedelta(weeks=args.weeks)
    engine = create_engine(url)
    with engine.begin() as conn:
        split = partitioned(conn)
        if split:
            _weeks(conn, newest - span, newest)
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'alerts'"
                " AND indexname <> 'pk_alerts'"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
    sql = FILL.format(stored=", stored_at" if split else "", stored_value=", t" if split else "")
    params = {
        "identities": max(args.rows // 5, args.open + 1),
        "open": args.open,
        "newest": newest,
        "step": span / args.rows,
    }
    for lo in range(0, args.rows, FILL_CHUNK):
        with engine.begin() as conn:
            conn.execute(text(sql), {**params, "lo": lo, "hi": min(args.rows, lo + FILL_CHUNK)})
        print(f"  filled {min(args.rows, lo + FILL_CHUNK):,}", file=sys.stderr, flush=True)
    with engine.begin() as conn:
        for _, definition in indexes:  # a partitioned table's read back as ON ONLY
            conn.execute(text(definition.replace(" ON ONLY ", " ON ")))
        if split:  # the key tables, as intake would have kept them
            for fill_keys in KEY_TABLES:
                conn.execute(text(fill_keys))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # As autovacuum would have, before the measurements: the filled tables only. The
        # weeks still empty keep "never analysed", as new partitions are; analysed empty,
        # the planner would plan scans of this week's partition as of a table of no pages.
        for table in _filled(conn):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    engine.dispose()
    return time.perf_counter() - started


def _filled(conn: Connection) -> list[str]:
    """The plain tables holding alerts (the weeks of a partitioned alerts table), and the
    key tables."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r'"
            " AND c.relnamespace = 'public'::regnamespace"
            " AND (c.relname LIKE 'alert%')"
        )
    ).scalars()
    return [
        name
        for name in names
        if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {name})")).scalar_one()
    ]


def _weeks(conn: Connection, oldest: datetime, newest: datetime) -> None:
    day = oldest.replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - timedelta(days=day.weekday())
    while start <= newest:
        end = start + timedelta(weeks=1)
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS alerts_w{start:%Y%m%d} PARTITION OF alerts"
                f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
        start = end


def measure(args: argparse.Namespace) -> None:
    """One code's measurements (a child process): prints one line per round. The order of
    the two databases alternates from round to round."""
    with database("postgres") as empty_url, database("postgres") as large_url:
        containers = {}
        for name, url in (("empty", empty_url), ("large", large_url)):
            containers[name] = build_container(Settings(database_url=url, triage_worker=False))
            migrate.upgrade(containers[name].engine)
        took = fill(large_url, args)
        print(f"# filled {args.rows:,} alerts in {took:.0f} s", flush=True)
        for name, container in containers.items():  # warm: connections, prepared statements
            cpu_ms_per_alert(container, work(container, _warm(args), f"warm-{name}"))
        for round_ in range(1, args.rounds + 1):
            found = {}
            order = list(containers) if round_ % 2 else list(reversed(containers))
            for name in order:
                container = containers[name]
                batches = work(container, args, f"{round_}{name}")
                before = server_cpu(container)
                cpu, rate = cpu_ms_per_alert(container, batches)
                after = server_cpu(container)
                server = sum(spent - before.get(pid, 0.0) for pid, spent in after.items())
                found[name] = (cpu, rate, server / args.alerts)
            print(_line(round_, order, found, args), flush=True)
        for container in containers.values():
            container.close()


def _line(
    round_: int,
    order: list[str],
    found: dict[str, tuple[float, float, float]],
    args: argparse.Namespace,
) -> str:
    (e_cpu, e_rate, e_server), (l_cpu, l_rate, l_server) = found["empty"], found["large"]
    return (
        f"round {round_} ({' then '.join(order)}): empty {e_rate:,.0f} alerts/s,"
        f" CPU ms/alert {e_cpu:.3f} client {1000 * e_server:.3f} server;"
        f" {args.rows:,} rows {l_rate:,.0f} alerts/s,"
        f" CPU ms/alert {l_cpu:.3f} client {1000 * l_server:.3f} server;"
        f" ratio {l_rate / e_rate:.2f} (alerts/s), {e_server / l_server:.2f} (server CPU)"
    )


TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(container: Container) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend on the database (autovacuum's
    included), read from /proc: the server must run on this machine."""
    with container.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        return {int(pid): _cpu_of(pid) for pid in pids}


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _warm(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "alerts": 640})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--open", type=int, default=5_000)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--keyspace", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--code", action="append", default=[], help="NAME=SRC (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or not args.code:
        measure(args)
        return
    for entry in args.code:
        name, _, src = entry.partition("=")
        print(f"== {name} ({src})", flush=True)
        env = {**os.environ, "PYTHONPATH": f"{Path(src).resolve()}:{ROOT}"}
        command = [sys.executable, "-m", "bench.large_table", *_forwarded(args), "--child"]
        subprocess.run(command, env=env, cwd=ROOT, check=True)


def _forwarded(args: argparse.Namespace) -> list[str]:
    names = ("rows", "open", "weeks", "alerts", "batch", "keyspace", "rounds")
    return [part for name in names for part in (f"--{name}", str(getattr(args, name)))]


if __name__ == "__main__":
    main()
