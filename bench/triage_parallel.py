"""Draining a triage backlog with 1 worker against 2 (issue 18, item 3): alerts of unrelated
services are decided in parallel now that a pass locks dependency groups, not one global lock.

Run from the project root:

    .venv/bin/python -m bench.triage_parallel [--alerts 5000] [--services 50] [--commander]

For each worker count a fresh `so1_bench_<random>` database on SO1_TEST_POSTGRES_URL is
loaded with --alerts pending alerts spread over --services services with no dependencies
(stored through the intake service, before the clock starts), then that many processes run
`process_pending` (the real triage policy) until the queue is empty. It prints the seconds
each took, the ratio 2 workers / 1 worker, and the double triage: alerts with more than
one triage run, and alerts left undecided. With --commander each incident triage opens is
declared at once by the incident-commander agent, as `so1 worker` does (war room, commander,
messages queued), inside the same pass.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import Counter
from multiprocessing.synchronize import Event

from sqlalchemy import text

from bench.ingest_writer import database
from so1.adapters.db import migrate
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.services.intake import deliveries as intake
from so1.services.triage.flow import process_pending

LOAD_BATCH = 500  # alerts stored per transaction while loading


def load(url: str, alerts: int, services: int) -> None:
    container = build_container(Settings(database_url=url, triage_worker=False))
    migrate.upgrade(container.engine)
    events = [
        AlertEvent(
            AlertSource.EVENTS, AlertAction.TRIGGER, f"k{n}", "error rate up", f"svc-{n % services}"
        )
        for n in range(alerts)
    ]
    for start in range(0, alerts, LOAD_BATCH):
        now = container.clock.now()
        delivery = Delivery(AlertSource.EVENTS, now, {}, b"{}", DeliveryOutcome.ACCEPTED)
        parsed = ParsedDelivery(events[start : start + LOAD_BATCH])
        intake.ingest(container.uow, container.clock, delivery, parsed)
    container.close()


def work(url: str, go: Event, declare: bool) -> None:
    container = build_container(Settings(database_url=url, triage_worker=False))
    commander = container.agents.commander if declare else None
    go.wait()
    started, cpu = time.perf_counter(), time.process_time()
    agent = container.triage_agent
    handled = process_pending(container.uow, container.clock, agent, commander=commander)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"  a worker decided {handled} alerts in {wall:.1f} s ({cpu:.1f} s of its own CPU)")
    container.close()


def drain(url: str, workers: int, declare: bool) -> float:
    go = multiprocessing.Event()
    processes = [
        multiprocessing.Process(target=work, args=(url, go, declare)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    time.sleep(2)  # let each build its container before the clock starts
    started = time.perf_counter()
    go.set()
    for process in processes:
        process.join()
    return time.perf_counter() - started


def faults(url: str) -> tuple[int, int]:
    """(alerts triaged more than once, alerts not decided)."""
    container = build_container(Settings(database_url=url, triage_worker=False))
    with container.engine.connect() as conn:
        runs = conn.execute(text("SELECT inputs FROM agent_runs WHERE agent = 'triage-responder'"))
        per_alert = Counter(str(inputs["alert"]["id"]) for (inputs,) in runs)
        undecided = conn.execute(
            text("SELECT count(*) FROM alerts WHERE triage_state IN ('pending', 'processing')")
        ).scalar_one()
    container.close()
    return sum(1 for count in per_alert.values() if count > 1), int(undecided)


def measure(workers: int, alerts: int, services: int, declare: bool = False) -> float:
    with database("postgres") as url:
        load(url, alerts, services)
        seconds = drain(url, workers, declare)
        twice, undecided = faults(url)
    print(f"{workers} worker(s): {seconds:.1f} s, triaged twice {twice}, undecided {undecided}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument(
        "--commander", action="store_true", help="declare each new incident at once, as the worker"
    )
    args = parser.parse_args()
    one = measure(1, args.alerts, args.services, args.commander)
    two = measure(2, args.alerts, args.services, args.commander)
    print(f"{args.alerts} alerts over {args.services} services: 2 workers / 1 = {two / one:.2f}")


if __name__ == "__main__":
    main()
