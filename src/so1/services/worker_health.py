"""How the background work fares: the queues its jobs empty, read from the database (so work
done by `so1 worker` processes elsewhere is seen too), beside the passes of the jobs this
process runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from so1.ports import Backlog, Clock, JobState, UnitOfWorkFactory

# Triage and delivery start within a second of new work; a queue this old is not being emptied.
BEHIND_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class WorkerHealth:
    jobs: list[JobState]
    queues: dict[str, Backlog]
    problems: list[str]


def worker_health(
    uow_factory: UnitOfWorkFactory, clock: Clock, jobs: Sequence[JobState]
) -> WorkerHealth:
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        queues = {
            "triage": uow.alerts.triage_backlog(),
            "delivery": uow.outbox.due_backlog(now),
        }
    problems = [p for job in jobs if (p := _job_problem(job))]
    problems += [p for name, queue in queues.items() if (p := _queue_problem(name, queue, now))]
    return WorkerHealth(list(jobs), queues, problems)


def _job_problem(job: JobState) -> str | None:
    if not job.alive:
        return f"{job.name}: not running in this process"
    if job.failures_in_a_row:
        return f"{job.name}: the last {job.failures_in_a_row} pass(es) failed: {job.last_error}"
    return None


def _queue_problem(name: str, queue: Backlog, now: datetime) -> str | None:
    if queue.oldest is None or now - queue.oldest < BEHIND_AFTER:
        return None
    minutes = int((now - queue.oldest).total_seconds() // 60)
    return f"{name}: {queue.waiting} waiting, the oldest for {minutes} min"
