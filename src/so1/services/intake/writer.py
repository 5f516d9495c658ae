"""Group commit for intake: concurrent requests hand their deliveries to one writer thread,
which stores a whole batch in one transaction and then answers each request.

Every request is still answered only after its delivery is committed (durable before 202);
batching spreads one commit over many alerts, which is what lets a busy server take
thousands of alerts a second on SQLite and PostgreSQL alike.

A request on an event loop (``store``) is answered with the rest of its batch in one call into
that loop, not one thread-safe call per request; a caller in a thread (``submit``) gets a
``concurrent.futures.Future``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future

from so1.domain.alerts import ParsedDelivery
from so1.domain.intake import Delivery
from so1.errors import Unavailable
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.intake import deliveries as intake

log = logging.getLogger("so1.ingest")

MAX_BATCH = 256
# How long the writer waits for more deliveries after the first: a commit costs about as
# much as storing dozens of alerts, so a short wait multiplies throughput under load and
# adds at most this much latency when idle.
LINGER_SECONDS = 0.002

# A batch slower than this is logged: its senders waited that long (a lock, the pool, the disk).
SLOW_BATCH_SECONDS = 1.0

Outcome = intake.IngestResult | BaseException


class ThreadAnswer:
    """The answer to a caller in a thread: a ``concurrent.futures.Future``."""

    loop: asyncio.AbstractEventLoop | None = None

    def __init__(self) -> None:
        self.future: Future[intake.IngestResult] = Future()

    def take(self) -> bool:
        """False when the caller gave up (cancelled) before the writer took it."""
        return self.future.set_running_or_notify_cancel()

    def settle(self, outcome: Outcome) -> None:
        _settle(self.future, outcome)


class LoopAnswer:
    """The answer to a request on an event loop: an asyncio future, settled in its loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[intake.IngestResult] = loop.create_future()

    def take(self) -> bool:
        return not self.future.cancelled()  # read across threads: at worst it is stored

    def settle(self, outcome: Outcome) -> None:
        _settle(self.future, outcome)


Answer = ThreadAnswer | LoopAnswer
Item = tuple[Delivery, ParsedDelivery, Answer]


class IngestWriter:
    """The writer thread and its queue. A request that gave up (its future cancelled) before
    its batch was written is skipped. If the thread dies, the batch it held is answered with
    Unavailable (503, the sender retries) and the next submit or health check starts a new
    one; ``health()`` says so."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, max_batch: int = MAX_BATCH
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._restarts = 0
        self._last_stop: str | None = None
        self._stopping: threading.Thread | None = None  # a thread on its way out

    def start(self) -> None:
        with self._guard:
            if self._thread is None:
                self._thread = self._started()

    def _started(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="so1-ingest", daemon=True)
        thread.start()
        return thread

    def stop(self, timeout: float = 10.0) -> None:
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def submit(self, delivery: Delivery, parsed: ParsedDelivery) -> Future[intake.IngestResult]:
        """For a caller in a thread: the future of the delivery's result."""
        answer = ThreadAnswer()
        self._put((delivery, parsed, answer))
        return answer.future

    async def store(self, delivery: Delivery, parsed: ParsedDelivery) -> intake.IngestResult:
        """For a request on an event loop: the result, once committed."""
        answer = LoopAnswer(asyncio.get_running_loop())
        self._put((delivery, parsed, answer))
        return await answer.future

    def _put(self, item: Item) -> None:
        self._ensure_running()
        self._queue.put(item)

    def health(self) -> str:
        """For GET /v1/health: "ok", with the restarts so far; a reason when not running."""
        if not self._ensure_running():
            return f"stopped: {self._last_stop}"
        if not self._restarts:
            return "ok"
        return f"ok (restarts: {self._restarts}; last stop: {self._last_stop})"

    def _ensure_running(self) -> bool:
        """Start a new writer thread if the last one died; False when none is meant to run."""
        with self._guard:
            if self._thread is None:
                return False
            if self._thread is self._stopping or not self._thread.is_alive():
                log.error("the ingest writer had stopped (%s); starting it again", self._last_stop)
                self._restarts += 1
                self._thread = self._started()
        return True

    def _run(self) -> None:
        batch: list[Item] = []
        try:
            while (taken := self._next_batch()) is not None:
                batch = taken
                self._write(batch)
                batch = []
        except BaseException as exc:  # the thread ends: answer what it held, say why
            self._last_stop = f"{type(exc).__name__}: {exc}"[:300]
            self._stopping = threading.current_thread()  # before any answer: no race
            stopped = Unavailable("the intake writer stopped; retry shortly")
            _answer([(answer, stopped) for _, _, answer in batch])
            raise

    def _next_batch(self) -> list[Item] | None:
        """The next deliveries to store (those whose request gave up are dropped), or None
        to stop."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + LINGER_SECONDS
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return [item for item in batch if item[2].take()]

    def _write(self, batch: list[Item]) -> None:
        if not batch:
            return
        started = time.monotonic()
        try:
            results = intake.ingest_batch(
                self._uow_factory, self._clock, [(d, p) for d, p, _ in batch]
            )
        except Exception:
            log.warning("batch of %d failed; storing one by one", len(batch), exc_info=True)
            self._write_one_by_one(batch)
            return
        _answer([(answer, result) for (_, _, answer), result in zip(batch, results, strict=True)])
        if (took := time.monotonic() - started) >= SLOW_BATCH_SECONDS:
            # every request of the batch, and all behind it, waited this long for its 202
            log.warning("a batch of %d deliveries took %.1f s to store", len(batch), took)

    def _write_one_by_one(self, batch: list[Item]) -> None:
        answered: list[tuple[Answer, Outcome]] = []
        for delivery, parsed, answer in batch:
            try:
                outcome: Outcome = intake.ingest(self._uow_factory, self._clock, delivery, parsed)
            except Exception as exc:  # the request gets the error; the others are unaffected
                outcome = exc
            answered.append((answer, outcome))
        _answer(answered)


def _answer(answered: list[tuple[Answer, Outcome]]) -> None:
    """Settle each answer: a thread's at once, a loop's with the others of its loop in one
    thread-safe call (a loop that has closed has no one waiting)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Answer, Outcome]]] = {}
    for answer, outcome in answered:
        if answer.loop is None:
            answer.settle(outcome)
        else:
            by_loop.setdefault(answer.loop, []).append((answer, outcome))
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, group)
        except RuntimeError:
            log.info("an event loop closed before %d intake answers reached it", len(group))


def _settle_all(group: list[tuple[Answer, Outcome]]) -> None:
    for answer, outcome in group:
        answer.settle(outcome)


def _settle(
    future: Future[intake.IngestResult] | asyncio.Future[intake.IngestResult], outcome: Outcome
) -> None:
    """Set the result or the error, unless the caller has gone (a cancelled future)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
