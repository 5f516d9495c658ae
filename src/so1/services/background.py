"""Background work: triage and correlation of new alerts, delivery of the outbox (war-room
messages, status-page updates, pages), and the runbook clocks with escalation.

The work is three Jobs (see ports.Job). Who runs them is a JobRunner: threads
(adapters/jobs/threads.py: one thread per job, in each server or in `so1 worker` on SQLite),
or procrastinate in `so1 worker` on PostgreSQL (adapters/jobs). The queues are the database
(alerts with triage_state 'pending', communications with status 'pending', runbook_alarms),
so several processes can run the jobs side by side and nothing is lost when one dies.

New work wakes its job at once: services add domain events to their unit of work, and after
the commit the one JobDispatcher (built in bootstrap/) wakes the job each event needs
(WOKEN_BY). A process without a runner (the CLI) wakes nothing; the jobs' polling finds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from so1.agents.registry import Agents, AnalystAgent, CommanderAgent
from so1.agents.triage import TriageAgent
from so1.domain.comms import Destination
from so1.domain.events import AlertStored, DomainEvent, MessageQueued
from so1.ports import (
    Clock,
    HealthProbe,
    Job,
    JobRunner,
    Messenger,
    MetricsSource,
    UnitOfWorkFactory,
)
from so1.services.declaration.escalation import escalate_unacknowledged
from so1.services.declaration.outbox import deliver_due
from so1.services.declaration.policy import DEFAULT_POLICY
from so1.services.intake.retention import Retention, apply_retention
from so1.services.investigation.metrics import purge_expired
from so1.services.isolation import guarded
from so1.services.postmortem.action_items import remind_overdue
from so1.services.postmortem.drafting import draft_missing
from so1.services.postmortem.meeting import DEFAULT_HOURS
from so1.services.runbook.clocks import check_clocks
from so1.services.triage.flow import process_pending
from so1.services.triage.join_notes import note_joined_since
from so1.services.triage.joining import JoinTriageMemo
from so1.services.verification.health import probe_services
from so1.services.verification.watch import watch_mitigations

log = logging.getLogger("so1.worker")

TRIAGE, DELIVERY, CLOCKS = "triage", "delivery", "clocks"
POLL_SECONDS = 1
CLOCK_SECONDS = 15  # how often runbook deadlines are re-evaluated
# Claims a crashed worker left behind expire after a minute (triage_flow.STALE_CLAIM); looking
# for them on every pass cost a query per alert under load, so look every 15 seconds.
RECOVER_STALE_EVERY = 15.0
# A pass waits this long before it reads what is waiting, so the alerts of the next few
# commits share its reads (the catalog, deployments, past incidents, open incidents: a
# fixed cost per pass); a small part of the 1 s receipt-to-triage budget.
TRIAGE_GATHER_SECONDS = 0.05
DELIVERIES_PER_PASS = 50  # then the pass wakes itself, so a stop is never held up long
SLOW_PASS_SECONDS = 1.0
# Retention checks old weeks (a scan of each one still held): every 10 minutes is plenty.
RETENTION_EVERY = 600.0

Wake = Callable[[str], None]
# Which job acts on each domain event once its transaction is committed.
WOKEN_BY: Mapping[type[DomainEvent], str] = {
    AlertStored: TRIAGE,  # correlate or triage the new alert
    MessageQueued: DELIVERY,  # send the message, update or page (a declaration's too)
}


class JobDispatcher:
    """The one dispatcher of committed domain events: wakes the job each needs, once per
    commit however many events it had. ``runner`` is set while this process runs jobs (or,
    with SO1_BACKGROUND=worker on PostgreSQL, defers them to procrastinate)."""

    def __init__(self) -> None:
        self.runner: JobRunner | None = None

    def __call__(self, events: Sequence[DomainEvent]) -> None:
        for name in dict.fromkeys(WOKEN_BY[type(event)] for event in events):
            self.wake(name)

    def wake(self, name: str) -> None:
        """Run a pass of job ``name`` soon (also a pass that stopped with work left)."""
        runner = self.runner
        if runner is None:
            return
        try:
            runner.wake(name)
        except Exception:  # the work is committed; the job's own polling will find it
            log.exception("could not wake the %s job", name)


class TriagePass:
    """Triage waiting alerts; a declaration's messages and pages wake delivery on commit."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        agent: TriageAgent,
        commander: CommanderAgent | None,
        gather_seconds: float = TRIAGE_GATHER_SECONDS,
    ) -> None:
        self._uow_factory, self._clock = uow_factory, clock
        self._agent, self._commander = agent, commander
        self._gather = gather_seconds
        self._last_recovery = float("-inf")
        self._memo = JoinTriageMemo()  # across passes: a storm's signal is triaged once a minute

    def __call__(self) -> None:
        time.sleep(self._gather)
        recover = time.monotonic() - self._last_recovery >= RECOVER_STALE_EVERY
        process_pending(
            self._uow_factory, self._clock, self._agent, recover, self._commander, self._memo
        )
        if recover:
            self._last_recovery = time.monotonic()


class DeliveryPass:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        wake: Wake,
        messengers: Mapping[Destination, Messenger],
    ) -> None:
        self._uow_factory, self._clock, self.wake = uow_factory, clock, wake
        self._messengers = messengers

    def __call__(self) -> None:
        for _ in range(DELIVERIES_PER_PASS):
            if not deliver_due(self._uow_factory, self._clock, self._messengers):
                return
        self.wake(DELIVERY)  # more are due: carry on in a new pass, so a stop is not held up


class ClockPass:
    """Re-evaluates the runbook clocks of open incidents (late checks escalate once) and
    walks escalation policies until someone acknowledges; probes affected services' health
    checks; judges finished mitigations on the runbook's gates; drops expired metric samples.
    The messages and pages its alarms queue wake delivery on commit."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        settings: JobSettings,
        metrics: MetricsSource | None,
        analyst: AnalystAgent | None = None,
        health: HealthProbe | None = None,
    ) -> None:
        self._uow_factory, self._clock = uow_factory, clock
        self._settings, self._metrics, self._analyst = settings, metrics, analyst
        self._health = health
        self._last_retention = float("-inf")

    def __call__(self) -> None:
        started = time.monotonic()
        fired = sum(guarded(name, "this pass", stage, 0) for name, stage in self._stages())
        took = time.monotonic() - started
        if took > SLOW_PASS_SECONDS:
            log.warning("runbook clock pass took %.1f s (%d alarms fired)", took, fired)

    def _stages(self) -> list[tuple[str, Callable[[], int]]]:
        """The parts of a pass, each returning the alarms it fired. Each runs on its own: one
        that fails outright (the database refusing a query, say) is logged, the next runs."""
        uow, clock, settings = self._uow_factory, self._clock, self._settings
        stages: list[tuple[str, Callable[[], int]]] = [
            ("runbook clocks", lambda: check_clocks(uow, clock)),
            (
                "escalation",
                lambda: escalate_unacknowledged(uow, clock, settings.default_escalation_policy),
            ),
        ]
        if (health := self._health) is not None:  # services' own checks, for the health gate
            stages.append(("health probes", lambda: _none(probe_services(uow, clock, health))))
        if (metrics := self._metrics) is not None:  # mitigations judged on the runbook's gates
            stages.append(
                ("verification", lambda: watch_mitigations(uow, clock, metrics, settings.stability))
            )
        retention = settings.metrics_retention
        stages.append(("metric purge", lambda: _none(purge_expired(uow, clock, retention))))
        if time.monotonic() - self._last_retention >= RETENTION_EVERY:
            self._last_retention = time.monotonic()
            keep = settings.retention
            stages.append(("retention", lambda: _none(apply_retention(uow, clock, keep))))
        if (analyst := self._analyst) is not None:  # every resolved incident gets its draft
            hours = settings.meeting_hours
            stages.append(("drafting", lambda: _none(draft_missing(uow, clock, analyst, hours))))
        stages.append(("reminders", lambda: remind_overdue(uow, clock)))
        stages.append(("joined alerts", lambda: _none(note_joined_since(uow, clock))))
        return stages


def _none(_: object) -> int:
    """A stage that fires no alarms."""
    return 0


@dataclass(frozen=True)
class JobSettings:
    """Which jobs run (settings triage_worker, delivery_worker, runbook_clocks), and how long
    pushed metric samples are kept (the clocks job drops older ones)."""

    triage: bool = True
    delivery: bool = True
    clocks: bool = True
    metrics_retention: timedelta = timedelta(days=7)
    stability: timedelta = timedelta(minutes=30)  # metrics stable this long → resolved
    clock_seconds: int = CLOCK_SECONDS
    meeting_hours: tuple[int, int] = DEFAULT_HOURS  # the postmortem review's window
    default_escalation_policy: str = DEFAULT_POLICY  # for services without a team's policy
    concurrency: Mapping[str, int] = field(default_factory=dict)  # passes at once, per job
    retention: Retention = field(default_factory=Retention)  # SO1_*_RETENTION_DAYS
    # PostgreSQL: a woken triage pass gathers this long first. SQLite: 0, since one writer at a
    # time means a bigger pass holds the file longer and intake waits behind it (measured).
    triage_gather_seconds: float = TRIAGE_GATHER_SECONDS

    def limit(self, name: str) -> int:
        """How many passes of job ``name`` may run at once (SO1_WORKER_CONCURRENCY)."""
        return self.concurrency.get(name, 1)


def background_jobs(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    wake: Wake,
    switches: JobSettings,
    agents: Agents,
    messengers: Mapping[Destination, Messenger],
    metrics: MetricsSource | None = None,
    health: HealthProbe | None = None,
) -> list[Job]:
    jobs: list[Job] = []
    triage_agent = agents.triage
    if switches.triage and triage_agent is not None:
        gather = switches.triage_gather_seconds
        triage = TriagePass(uow_factory, clock, triage_agent, agents.commander, gather)
        jobs.append(Job(TRIAGE, triage, POLL_SECONDS, concurrency=switches.limit(TRIAGE)))
    if switches.delivery:
        delivery = DeliveryPass(uow_factory, clock, wake, messengers)
        jobs.append(Job(DELIVERY, delivery, POLL_SECONDS, concurrency=switches.limit(DELIVERY)))
    if switches.clocks:
        clocks = ClockPass(uow_factory, clock, switches, metrics, agents.analyst, health)
        jobs.append(Job(CLOCKS, clocks, switches.clock_seconds, serial=True))
    return jobs
