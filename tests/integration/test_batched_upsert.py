"""The intake upsert run for many rows at once (multi-row statements on SQLite, matched back
to their rows by identity) answers exactly as the same rows run one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from so1.adapters.clock import FixedClock
from so1.adapters.db import driver
from so1.bootstrap import Container
from so1.domain.alerts import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertSource,
    AlertStatus,
    ParsedDelivery,
)
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.services.intake import deliveries as intake

# (source, key, summary): fresh keys, keys already open (duplicates), a key whose alert was
# resolved (a new one opens), the same key under two sources, and repeats inside the batch.
SENT = datetime(2024, 1, 1, tzinfo=UTC)
Row = tuple[AlertSource, str, str]
BATCH: list[Row] = [
    (AlertSource.EVENTS, "fresh-1", "a"),
    (AlertSource.EVENTS, "open-1", "b"),
    (AlertSource.EVENTS, "shared", "c"),
    (AlertSource.ALERTMANAGER, "shared", "d"),
    (AlertSource.EVENTS, "fresh-1", "e"),
    (AlertSource.EVENTS, "resolved-1", "f"),
    (AlertSource.EVENTS, "open-1", "g"),
    (AlertSource.EVENTS, "fresh-2", "h"),
    (AlertSource.EVENTS, "fresh-1", "i"),
    (AlertSource.ALERTMANAGER, "shared", "j"),
    (AlertSource.EVENTS, "resolved-1", "k"),
] + [(AlertSource.EVENTS, f"many-{n % 23}", f"m{n}") for n in range(60)]
DISTINCT: list[Row] = [
    (AlertSource.EVENTS, "fresh-1", "a"),
    (AlertSource.EVENTS, "open-1", "b"),
    (AlertSource.EVENTS, "shared", "c"),
    (AlertSource.ALERTMANAGER, "shared", "d"),
    (AlertSource.EVENTS, "resolved-1", "f"),
] + [(AlertSource.EVENTS, f"many-{n}", f"m{n}") for n in range(40)]


def trigger(source: AlertSource, key: str, summary: str) -> AlertEvent:
    """The sender's times differ from row to row (a new alert's first_seen_at is its own)."""
    sent = SENT + timedelta(minutes=len(summary) + len(key))
    return AlertEvent(
        source, AlertAction.TRIGGER, key, summary, current_value=str(len(key)), occurred_at=sent
    )


def prepare(container: Container, clock: FixedClock, prefix: str) -> None:
    """``open-1`` open with two sightings, ``resolved-1`` opened then resolved."""
    at = clock.now()
    with container.uow() as uow:
        for n, key in enumerate(("open-1", "open-1", "resolved-1")):
            event = trigger(AlertSource.EVENTS, prefix + key, "before")
            uow.alerts.trigger(event, f"{prefix}before-{n}", at)
        uow.alerts.transition(AlertSource.EVENTS, prefix + "resolved-1", AlertStatus.RESOLVED, at)
        uow.commit()


def unprefixed(alert: Alert, prefix: str) -> Alert:
    return replace(
        alert, id=alert.id.removeprefix(prefix), dedup_key=alert.dedup_key.removeprefix(prefix)
    )


def run(container: Container, prefix: str, batch: list[Row], together: bool) -> list[Alert]:
    """``batch`` under ``prefix``: in one ``trigger_many``, or one ``trigger`` per row."""
    at = container.clock.now()
    triggers = [
        (trigger(source, prefix + key, summary), f"{prefix}new-{n}", None)
        for n, (source, key, summary) in enumerate(batch)
    ]
    with container.uow() as uow:
        if together:
            alerts = uow.alerts.trigger_many(triggers, at)
        else:
            alerts = [uow.alerts.trigger(event, new_id, at) for event, new_id, _ in triggers]
        uow.commit()
    return [unprefixed(alert, prefix) for alert in alerts]


@contextmanager
def returned_rows_reversed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The driver's cursors give RETURNING rows last first (SQLite promises no order)."""
    real = driver._cursor

    class Reversing:
        def __init__(self, cursor: Any) -> None:
            self._cursor = cursor

        def fetchall(self) -> list[Any]:
            return list(reversed(self._cursor.fetchall()))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cursor, name)

    @contextmanager
    def reversing(conn: Any, sql: str) -> Iterator[Any]:
        with real(conn, sql) as cursor:
            yield Reversing(cursor)

    monkeypatch.setattr(driver, "_cursor", reversing)
    yield


def check_batch(
    container: Container,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
    batch: list[Row],
) -> list[Alert]:
    """``batch`` one row at a time and in one call (its RETURNING rows in ``order``): the same
    alerts, in the same order."""
    for prefix in ("one-", "all-"):
        prepare(container, clock, prefix)
    clock.advance(timedelta(seconds=5))
    one_by_one = run(container, "one-", batch, together=False)
    with returned_rows_reversed(monkeypatch) if order == "reversed" else nullcontext():
        together = run(container, "all-", batch, together=True)
    assert together == one_by_one
    return together


# PostgreSQL's upsert (open_keys.open_or_count) is given distinct identities only, as
# intake does (a repeat ends the run of triggers); SQLite's answers repeats in order too.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("order", ["as returned", "reversed"])
def test_a_batch_repeating_identities_answers_as_one_row_at_a_time(
    container: Container, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    together = check_batch(container, clock, monkeypatch, order, BATCH)
    assert [a.dedup_count for a in together[:11]] == [1, 3, 1, 1, 2, 1, 4, 1, 3, 2, 2]
    assert together[5].id == "new-5" and together[8].id == "new-0"
    assert len({a.first_seen_at for a in together}) >= 4


@pytest.mark.parametrize("order", ["as returned", "reversed"])
def test_a_batch_of_distinct_identities_answers_as_one_row_at_a_time(
    container: Container, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    together = check_batch(container, clock, monkeypatch, order, DISTINCT)
    assert [a.dedup_count for a in together[:5]] == [1, 3, 1, 1, 1]


def deliveries(container: Container, prefix: str) -> list[tuple[Delivery, ParsedDelivery]]:
    """Deliveries of triggers, resolves and repeats, some of several events."""
    resolve = AlertEvent(AlertSource.EVENTS, AlertAction.RESOLVE, prefix + "resolved-1", "ok")
    events = [[trigger(s, prefix + k, summary)] for s, k, summary in BATCH]
    events[4] = [*events[4], resolve, trigger(AlertSource.EVENTS, prefix + "resolved-1", "x")]
    events[20] = [resolve, *events[20], *events[2]]
    raw = Delivery(AlertSource.EVENTS, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED)
    return [(raw, ParsedDelivery(e)) for e in events]


def outcomes(results: list[intake.IngestResult], prefix: str) -> list[list[tuple[Any, ...]]]:
    """Each event's outcome and alert, the alert's id replaced by its first appearance."""
    ids: dict[str, int] = {}
    shown = []
    for result in results:
        row = []
        for r in result.results:
            alert = unprefixed(r.alert, prefix) if r.alert else None
            number = ids.setdefault(alert.id, len(ids)) if alert else None
            row.append((r.outcome, number, replace(alert, id="") if alert else None))
        shown.append(row)
    return shown


def test_a_batch_of_deliveries_answers_as_one_delivery_at_a_time(
    container: Container, clock: FixedClock
) -> None:
    for prefix in ("one-", "all-"):
        prepare(container, clock, prefix)
    clock.advance(timedelta(seconds=5))
    one_by_one = [
        intake.ingest_batch(container.uow, container.clock, [item])[0]
        for item in deliveries(container, "one-")
    ]
    together = intake.ingest_batch(container.uow, container.clock, deliveries(container, "all-"))
    assert outcomes(together, "all-") == outcomes(one_by_one, "one-")
