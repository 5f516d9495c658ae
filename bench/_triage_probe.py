"""Receipt → triage, read from the database the server writes to.

An alert's receipt is its stored `first_seen_at` (the server's clock when it stored the
delivery; the bench's templates carry no timestamp of their own). Its triage decision is the
moment its `triage_state` leaves 'pending'/'processing'; the schema keeps no time for that, so
a `Watch` polls the alerts first seen since it started, every `interval`, and takes the end of
the first poll that found an alert decided. Every figure is an upper bound, late by at most
one interval plus a query.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, func, select

from so1.adapters.db.intake_tables import alerts
from so1.adapters.db.tables import incidents

WAITING = ("pending", "processing")
INTERVAL = 0.1  # seconds between polls
SLACK = 2.0  # seconds: an alert's receipt may precede its commit by this much


def receipt_to_triage(received: dict[str, float], decided_at: dict[str, float]) -> list[float]:
    """Seconds from receipt to decision of every decided alert, sorted."""
    return sorted(
        max(0.0, decided_at[alert_id] - at)
        for alert_id, at in received.items()
        if alert_id in decided_at
    )


def next_low(since: float, waiting: list[float], poll_start: float) -> float:
    """Where the next poll starts reading: before the oldest alert still waiting, or before
    this poll when none waits, less SLACK for deliveries not yet committed; never before
    `since`."""
    return max(since, (min(waiting) if waiting else poll_start) - SLACK)


@dataclass
class Watch:
    """Polls the alerts first seen since it started, in a thread, until `finish()`."""

    engine: Engine
    since: float = field(default_factory=time.time)
    interval: float = INTERVAL
    received: dict[str, float] = field(default_factory=dict)
    decided_at: dict[str, float] = field(default_factory=dict)
    waiting: int = 0
    last_poll: float = 0.0
    _low: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._low = self.since
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> None:
        started = time.time()
        low = datetime.fromtimestamp(self._low, UTC)
        query = select(alerts.c.id, alerts.c.first_seen_at, alerts.c.triage_state)
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(alerts.c.first_seen_at >= low)).all()
        ended, waiting = time.time(), []
        for alert_id, first_seen, state in rows:
            self.received[alert_id] = at = _epoch(first_seen)
            if state in WAITING:
                waiting.append(at)
            elif alert_id not in self.decided_at:
                self.decided_at[alert_id] = ended
        self._low = next_low(self.since, waiting, started)
        self.waiting, self.last_poll = len(waiting), started

    def finish(self, timeout: float) -> float | None:
        """Seconds until a poll begun after this call finds no alert waiting (None if not
        within `timeout`); then polling stops."""
        called, start = time.time(), time.monotonic()
        try:
            while time.monotonic() - start < timeout:
                if self.last_poll > called and not self.waiting:
                    return round(time.monotonic() - start, 1)
                time.sleep(self.interval / 2)
            return None
        finally:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=10)


class Database:
    """Read-only questions the bench asks the server's database."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def backlog(self) -> int:
        query = select(func.count()).where(alerts.c.triage_state.in_(WAITING))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def drain(self, timeout: float) -> float | None:
        """Seconds until the triage backlog is empty; None if not within `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.backlog() == 0:
                return round(time.monotonic() - start, 1)
            time.sleep(0.25)
        return None

    def incidents(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(incidents)).scalar_one())

    def alerts_of(self, service: str) -> tuple[int, int]:
        """(alerts stored for `service`, distinct incidents they belong to)."""
        query = select(func.count(), func.count(alerts.c.incident_id.distinct()))
        with self.engine.connect() as conn:
            row = conn.execute(query.where(alerts.c.service == service)).one()
        return int(row[0]), int(row[1])

    def received_between(self, since: float, until: float) -> dict[str, float]:
        """Alerts first seen in [since, until] (epoch seconds): id → receipt."""
        low, high = (datetime.fromtimestamp(t, UTC) for t in (since, until))
        query = select(alerts.c.id, alerts.c.first_seen_at).where(
            alerts.c.first_seen_at >= low, alerts.c.first_seen_at <= high
        )
        with self.engine.connect() as conn:
            return {row[0]: _epoch(row[1]) for row in conn.execute(query)}

    def watch(self) -> Watch:
        found = Watch(self.engine)
        found.start()
        return found


def _epoch(value: Any) -> float:
    at: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
    return at.timestamp()


def figures(latencies: Iterable[float]) -> dict[str, float | int | None]:
    """Count, p50 and p99 in ms of receipt→triage seconds (nearest rank)."""
    done = sorted(latencies)

    def pct(p: float) -> float | None:
        if not done:
            return None
        return round(done[max(0, math.ceil(len(done) * p / 100) - 1)] * 1000, 1)

    return {"alerts": len(done), "p50_ms": pct(50), "p99_ms": pct(99)}
