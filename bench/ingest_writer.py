"""CPU per alert in the group-commit writer alone: ``intake.ingest_batch`` (what the writer
thread runs per batch), with no HTTP, no event loop and no other thread.

Run from the project root:

    .venv/bin/python bench/ingest_writer.py [--backend sqlite|postgres] [--alerts 10000]
        [--batch 32] [--keyspace 5000]

The bodies are ../shared/tools/alert_template.json, as the lean route reads them; keys cycle
over --keyspace (new alerts, then duplicates). The batches are built before the clock starts;
the figure is process CPU (time.process_time) over the stores, divided by the alerts, and
the alerts stored per second of wall-clock time (the database server's own work included).
PostgreSQL uses a fresh `so1_bench_<random>` database on SO1_TEST_POSTGRES_URL, dropped after.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from so1.adapters.db import migrate
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.alerts import AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.entrypoints.api.alert_checks import accepted_alert, parsed_json
from so1.entrypoints.api.routes.alerts import alert_event
from so1.services.intake import deliveries as intake

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT.parent / "shared" / "tools" / "alert_template.json"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Batch = list[tuple[Delivery, ParsedDelivery]]


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="so1-writer-") as folder:
            yield f"sqlite:///{folder}/so1.db"
        return
    admin_url = make_url(os.environ.get("SO1_TEST_POSTGRES_URL", DEFAULT_PG))
    name = f"so1_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def batches(container: Container, args: argparse.Namespace, start: int) -> list[Batch]:
    template = TEMPLATE.read_text()
    built: list[Batch] = []
    for first in range(start, start + args.alerts, args.batch):
        batch: Batch = []
        for n in range(first, min(first + args.batch, start + args.alerts)):
            raw = template.replace("{{uniq}}", str(n % args.keyspace)).encode()
            checked = accepted_alert(parsed_json(raw) or {})
            if checked is None:
                raise SystemExit("the alert template no longer passes the lean checks")
            delivery = Delivery(
                AlertSource.EVENTS, container.clock.now(), {}, raw, DeliveryOutcome.ACCEPTED
            )
            batch.append((delivery, ParsedDelivery(events=[alert_event(checked)])))
        built.append(batch)
    return built


def cpu_ms_per_alert(container: Container, work: list[Batch]) -> tuple[float, float]:
    """(process CPU ms per alert, alerts stored per second of wall-clock time)."""
    started, wall = time.process_time(), time.perf_counter()
    for batch in work:
        intake.ingest_batch(container.uow, container.clock, batch)
    alerts = sum(len(batch) for batch in work)
    elapsed = time.perf_counter() - wall
    return 1000 * (time.process_time() - started) / alerts, alerts / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--keyspace", type=int, default=5000)
    args = parser.parse_args()
    with database(args.backend) as url:
        container = build_container(Settings(database_url=url, triage_worker=False))
        migrate.upgrade(container.engine)
        warm = batches(container, argparse.Namespace(**{**vars(args), "alerts": 640}), 10**6)
        cpu_ms_per_alert(container, warm)
        figure, rate = cpu_ms_per_alert(container, batches(container, args, 0))
        container.close()
    print(
        f"{args.backend}: {figure:.3f} ms CPU per alert in the writer, {rate:,.0f} alerts/s "
        f"({args.alerts} alerts, batches of {args.batch}, keyspace {args.keyspace})"
    )


if __name__ == "__main__":
    main()
