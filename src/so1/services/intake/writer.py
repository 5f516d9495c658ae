"""Group commit for intake: concurrent requests hand their deliveries to one writer thread,
which stores a whole batch in one transaction and then answers each request.

Every request is still answered only after its delivery is committed (durable before 202);
batching spreads one commit over many alerts, which is what lets a busy server take
thousands of alerts a second on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from so1.domain.alerts import ParsedDelivery
from so1.domain.intake import Delivery
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.intake import deliveries as intake

log = logging.getLogger("so1.ingest")

MAX_BATCH = 256
# How long the writer waits for more deliveries after the first: a commit costs about as
# much as storing dozens of alerts, so a short wait multiplies throughput under load and
# adds at most this much latency when idle.
LINGER_SECONDS = 0.002

Item = tuple[Delivery, ParsedDelivery, "Future[intake.IngestResult]"]


class IngestWriter:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, max_batch: int = MAX_BATCH
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="so1-ingest", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, delivery: Delivery, parsed: ParsedDelivery) -> Future[intake.IngestResult]:
        future: Future[intake.IngestResult] = Future()
        self._queue.put((delivery, parsed, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + LINGER_SECONDS
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Item]) -> None:
        try:
            results = intake.ingest_batch(
                self._uow_factory, self._clock, [(d, p) for d, p, _ in batch]
            )
        except Exception:
            log.warning("batch of %d failed; storing one by one", len(batch), exc_info=True)
            self._write_one_by_one(batch)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _write_one_by_one(self, batch: list[Item]) -> None:
        for delivery, parsed, future in batch:
            try:
                future.set_result(intake.ingest(self._uow_factory, self._clock, delivery, parsed))
            except Exception as exc:  # the request gets the error; the others are unaffected
                future.set_exception(exc)
