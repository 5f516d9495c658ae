"""Receipt → triage, read from the database the server writes to.

An alert's receipt is its stored `first_seen_at` (the server's clock when the delivery was
committed; the bench's templates carry no timestamp of their own). Its triage decision is the
moment its `triage_state` leaves 'pending'/'processing'; the schema keeps no time for it, so a
`Watch` polls the set of waiting alerts every `interval` and takes the first poll at which an
alert is no longer waiting. Every figure is an upper bound, late by at most one interval plus
a query: an alert decided between two polls gets the second one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, func, select

from so1.adapters.db.intake_tables import alerts
from so1.adapters.db.tables import incidents

WAITING = ("pending", "processing")
INTERVAL = 0.1  # seconds between polls of the waiting set


def receipt_to_triage(
    received: dict[str, float], decided_at: dict[str, float], polls: Sequence[float]
) -> list[float]:
    """Seconds from receipt to decision per alert, sorted. An alert seen waiting is decided
    at the first poll that did not see it; one never seen waiting at the first poll after its
    receipt. An alert received after the last poll has no figure."""
    ordered = sorted(polls)
    out: list[float] = []
    for alert_id, at in received.items():
        done = decided_at.get(alert_id)
        if done is None:
            done = next((p for p in ordered if p >= at), None)
        if done is not None:
            out.append(max(0.0, done - at))
    return sorted(out)


def newly_decided(before: set[str], now: set[str]) -> set[str]:
    """Alerts waiting at the previous poll and not at this one."""
    return before - now


@dataclass
class Watch:
    """Polls the waiting alerts in a thread from `start()` until `finish()`."""

    engine: Engine
    interval: float = INTERVAL
    polls: list[float] = field(default_factory=list)
    decided_at: dict[str, float] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> None:
        with self.engine.connect() as conn:
            now = set(conn.scalars(select(alerts.c.id).where(alerts.c.triage_state.in_(WAITING))))
        at = time.time()
        for alert_id in newly_decided(self.waiting, now):
            self.decided_at[alert_id] = at
        self.waiting = now
        self.polls.append(at)

    def finish(self, timeout: float) -> float | None:
        """Seconds until no alert waits (None if not within `timeout`); stops polling."""
        start = time.monotonic()
        try:
            while time.monotonic() - start < timeout:
                if self.polls and not self.waiting and self.polls[-1] > start:
                    return round(time.monotonic() - start, 1)
                time.sleep(self.interval)
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
