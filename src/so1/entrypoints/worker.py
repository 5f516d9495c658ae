"""Background work inside each server process: triage and correlation of new alerts, and
delivery of the outbox (war-room messages, status-page updates, pages).

The queues are the database (alerts with triage_state 'pending', communications with status
'pending'), so several processes can run workers side by side and nothing is lost when one
dies: its claims expire and are retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from so1.domain.comms import Destination
from so1.ports import Agent, Clock, Messenger, UnitOfWorkFactory
from so1.services.escalation import escalate_unacknowledged
from so1.services.outbox import deliver_due
from so1.services.runbook_watch import check_clocks
from so1.services.triage_flow import process_pending

log = logging.getLogger("so1.worker")

POLL_SECONDS = 1.0
# Claims a crashed worker left behind expire after a minute (triage_flow.STALE_CLAIM); looking
# for them on every pass cost a query per alert under load, so look every 15 seconds.
RECOVER_STALE_EVERY = 15.0
CLOCK_SECONDS = 15.0  # how often runbook deadlines are re-evaluated
SLOW_PASS_SECONDS = 1.0


class LoopWorker:
    """A daemon thread that runs ``step()`` when woken, or every POLL_SECONDS."""

    name = "so1-worker"
    interval = POLL_SECONDS

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Called after new work is committed, so it starts at once instead of polling."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.step()
            except Exception:
                log.exception("%s pass failed; retrying", self.name)

    def step(self) -> None:
        raise NotImplementedError


class TriageWorker(LoopWorker):
    name = "so1-triage"

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        agent: Agent,
        commander: Agent | None = None,
    ) -> None:
        super().__init__()
        self._uow_factory, self._clock = uow_factory, clock
        self._agent, self._commander = agent, commander
        self._last_recovery = float("-inf")

    def step(self) -> None:
        recover = time.monotonic() - self._last_recovery >= RECOVER_STALE_EVERY
        process_pending(self._uow_factory, self._clock, self._agent, recover, self._commander)
        if recover:
            self._last_recovery = time.monotonic()


class DeliveryWorker(LoopWorker):
    name = "so1-delivery"

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        messengers: Mapping[Destination, Messenger],
    ) -> None:
        super().__init__()
        self._uow_factory, self._clock, self._messengers = uow_factory, clock, messengers

    def step(self) -> None:
        while deliver_due(self._uow_factory, self._clock, self._messengers):
            if self._stop.is_set():
                return


class ClockWorker(LoopWorker):
    """Re-evaluates the runbook clocks of open incidents (late checks escalate once) and
    walks escalation policies until someone acknowledges."""

    name = "so1-clocks"
    interval = CLOCK_SECONDS

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, after: Callable[[], None]
    ) -> None:
        super().__init__()
        self._uow_factory, self._clock, self._after = uow_factory, clock, after

    def step(self) -> None:
        started = time.monotonic()
        fired = check_clocks(self._uow_factory, self._clock)
        fired += escalate_unacknowledged(self._uow_factory, self._clock)
        took = time.monotonic() - started
        if took > SLOW_PASS_SECONDS:
            log.warning("runbook clock pass took %.1f s (%d alarms fired)", took, fired)
        if fired:
            self._after()  # alarms queued messages: deliver them now
