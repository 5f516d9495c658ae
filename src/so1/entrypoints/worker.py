"""Background work inside each server process: triage and correlation of new alerts.

The queue is the database (alerts with triage_state 'pending'), so several processes can run
workers side by side and nothing is lost when one dies: its claims expire and are retried.
"""

from __future__ import annotations

import logging
import threading
import time

from so1.ports import Agent, Clock, UnitOfWorkFactory
from so1.services.triage_flow import process_pending

log = logging.getLogger("so1.worker")

POLL_SECONDS = 1.0
# Claims a crashed worker left behind expire after a minute (triage_flow.STALE_CLAIM); looking
# for them on every pass cost a query per alert under load, so look every 15 seconds.
RECOVER_STALE_EVERY = 15.0


class TriageWorker:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, agent: Agent) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._agent = agent
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="so1-triage", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Called after an alert is committed, so triage starts at once instead of polling."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        last_recovery = float("-inf")
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            recover = time.monotonic() - last_recovery >= RECOVER_STALE_EVERY
            try:
                process_pending(self._uow_factory, self._clock, self._agent, recover)
            except Exception:
                log.exception("triage worker pass failed; retrying")
                continue
            if recover:
                last_recovery = time.monotonic()
