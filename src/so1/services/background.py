"""Background work: triage and correlation of new alerts, delivery of the outbox (war-room
messages, status-page updates, pages), and the runbook clocks with escalation.

The work is three Jobs (see ports.Job). Who runs them is a JobRunner: threads
(adapters/jobs/threads.py: one thread per job, in each server or in `so1 worker` on SQLite),
or procrastinate in `so1 worker` on PostgreSQL (adapters/jobs). The queues are the database
(alerts with triage_state 'pending', communications with status 'pending', runbook_alarms),
so several processes can run the jobs side by side and nothing is lost when one dies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from so1.agents.triage import TriageAgent
from so1.domain.comms import Destination
from so1.ports import Agent, Clock, HealthProbe, Job, Messenger, MetricsSource, UnitOfWorkFactory
from so1.services.declaration.escalation import escalate_unacknowledged
from so1.services.declaration.outbox import deliver_due
from so1.services.investigation.metrics import purge_expired
from so1.services.postmortem.action_items import remind_overdue
from so1.services.postmortem.drafting import POSTMORTEM_AGENT, draft_missing
from so1.services.runbook.clocks import check_clocks
from so1.services.triage.flow import process_pending
from so1.services.verification.health import probe_services
from so1.services.verification.watch import watch_mitigations

log = logging.getLogger("so1.worker")

TRIAGE, DELIVERY, CLOCKS = "triage", "delivery", "clocks"
COMMANDER_AGENT = "incident-commander"
POLL_SECONDS = 1
CLOCK_SECONDS = 15  # how often runbook deadlines are re-evaluated
# Claims a crashed worker left behind expire after a minute (triage_flow.STALE_CLAIM); looking
# for them on every pass cost a query per alert under load, so look every 15 seconds.
RECOVER_STALE_EVERY = 15.0
DELIVERIES_PER_PASS = 50  # then the pass wakes itself, so a stop is never held up long
SLOW_PASS_SECONDS = 1.0

Wake = Callable[[str], None]


class TriagePass:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        wake: Wake,
        agent: TriageAgent,
        commander: Agent | None,
    ) -> None:
        self._uow_factory, self._clock, self.wake = uow_factory, clock, wake
        self._agent, self._commander = agent, commander
        self._last_recovery = float("-inf")

    def __call__(self) -> None:
        recover = time.monotonic() - self._last_recovery >= RECOVER_STALE_EVERY
        handled = process_pending(
            self._uow_factory, self._clock, self._agent, recover, self._commander
        )
        if recover:
            self._last_recovery = time.monotonic()
        if handled:
            self.wake(DELIVERY)  # a declaration queued messages and pages


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
        self.wake(DELIVERY)


class ClockPass:
    """Re-evaluates the runbook clocks of open incidents (late checks escalate once) and
    walks escalation policies until someone acknowledges; probes affected services' health
    checks; judges finished mitigations on the runbook's gates; drops expired metric samples."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        wake: Wake,
        settings: JobSettings,
        metrics: MetricsSource | None,
        analyst: Agent | None = None,
        health: HealthProbe | None = None,
    ) -> None:
        self._uow_factory, self._clock, self.wake = uow_factory, clock, wake
        self._settings, self._metrics, self._analyst = settings, metrics, analyst
        self._health = health

    def __call__(self) -> None:
        started = time.monotonic()
        fired = check_clocks(self._uow_factory, self._clock)
        fired += escalate_unacknowledged(self._uow_factory, self._clock)
        if self._health is not None:  # services' own health checks, for the health gate
            probe_services(self._uow_factory, self._clock, self._health)
        if self._metrics is not None:  # mitigations judged on the runbook's gates
            stability = self._settings.stability
            fired += watch_mitigations(self._uow_factory, self._clock, self._metrics, stability)
        purge_expired(self._uow_factory, self._clock, self._settings.metrics_retention)
        if self._analyst is not None:  # every resolved incident gets its postmortem draft
            draft_missing(self._uow_factory, self._clock, self._analyst)
        fired += remind_overdue(self._uow_factory, self._clock)
        took = time.monotonic() - started
        if took > SLOW_PASS_SECONDS:
            log.warning("runbook clock pass took %.1f s (%d alarms fired)", took, fired)
        if fired:
            self.wake(DELIVERY)  # alarms queued messages: deliver them now


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


def background_jobs(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    wake: Wake,
    switches: JobSettings,
    agents: Mapping[str, Agent],
    triage_agent: TriageAgent | None,
    messengers: Mapping[Destination, Messenger],
    metrics: MetricsSource | None = None,
    health: HealthProbe | None = None,
) -> list[Job]:
    jobs: list[Job] = []
    if switches.triage and triage_agent is not None:
        triage = TriagePass(uow_factory, clock, wake, triage_agent, agents.get(COMMANDER_AGENT))
        jobs.append(Job(TRIAGE, triage, POLL_SECONDS))
    if switches.delivery:
        delivery = DeliveryPass(uow_factory, clock, wake, messengers)
        jobs.append(Job(DELIVERY, delivery, POLL_SECONDS))
    if switches.clocks:
        analyst = agents.get(POSTMORTEM_AGENT)
        clocks = ClockPass(uow_factory, clock, wake, switches, metrics, analyst, health)
        jobs.append(Job(CLOCKS, clocks, switches.clock_seconds, serial=True))
    return jobs
