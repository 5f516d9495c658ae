"""Group commit: many concurrent deliveries, one writer; a bad one fails alone."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, cast

import pytest
from sqlalchemy.exc import IntegrityError

from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.ports import AlertFilter
from so1.services.intake import deliveries as intake
from so1.services.intake.writer import IngestWriter


def delivery(container: Container) -> Delivery:
    return Delivery(AlertSource.EVENTS, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED)


def event(key: str, summary: str = "disk full") -> ParsedDelivery:
    return ParsedDelivery([AlertEvent(AlertSource.EVENTS, AlertAction.TRIGGER, key, summary)])


def test_concurrent_submissions_are_all_committed(container: Container) -> None:
    writer = IngestWriter(container.uow, container.clock, max_batch=16)
    writer.start()
    try:
        futures = [writer.submit(delivery(container), event(f"k{n % 40}")) for n in range(200)]
        results = [f.result(timeout=30) for f in futures]
    finally:
        writer.stop()
    outcomes = [r.results[0].outcome for r in results]
    assert outcomes.count("created") == 40
    assert outcomes.count("duplicate") == 160
    with container.uow(read_only=True) as uow:
        alerts, total = uow.alerts.search(AlertFilter(limit=100))
    assert total == 40
    assert sum(a.dedup_count for a in alerts) == 200


def test_a_delivery_the_database_refuses_does_not_sink_its_batch(container: Container) -> None:
    """The middle delivery breaks a NOT NULL constraint: the batch is refused, then stored
    one by one, so the other two are stored and only that request gets the error."""
    poison = ParsedDelivery(
        [AlertEvent(AlertSource.EVENTS, AlertAction.TRIGGER, "poison", cast(str, None))]
    )
    writer = IngestWriter(container.uow, container.clock)
    futures: list[Future[intake.IngestResult]] = []
    for parsed in (event("a"), poison, event("b")):
        futures.append(writer.submit(delivery(container), parsed))
    writer.start()  # all three are queued, so they form one batch
    try:
        good = [futures[0].result(timeout=30), futures[2].result(timeout=30)]
        with pytest.raises(IntegrityError):
            futures[1].result(timeout=30)
    finally:
        writer.stop()
    assert [r.results[0].outcome for r in good] == ["created", "created"]
    with container.uow(read_only=True) as uow:
        alerts, total = uow.alerts.search(AlertFilter(limit=10))
    assert total == 2 and {a.dedup_key for a in alerts} == {"a", "b"}


def test_a_submission_whose_request_gave_up_is_skipped(container: Container) -> None:
    """The request was cancelled (its client went away) before the writer took it: nothing
    is stored for it, and the writer is not hurt by the cancelled future."""
    writer = IngestWriter(container.uow, container.clock)
    futures = [writer.submit(delivery(container), event(key)) for key in ("a", "gone", "b")]
    assert futures[1].cancel()
    writer.start()
    try:
        kept = [futures[0].result(timeout=30), futures[2].result(timeout=30)]
        later = writer.submit(delivery(container), event("c")).result(timeout=30)
        assert writer.health() == "ok"
    finally:
        writer.stop()
    assert [r.results[0].outcome for r in [*kept, later]] == ["created"] * 3
    with container.uow(read_only=True) as uow:
        alerts, _ = uow.alerts.search(AlertFilter(limit=10))
    assert sorted(a.dedup_key for a in alerts) == ["a", "b", "c"]


def test_requests_on_an_event_loop_are_answered_a_batch_at_a_time(container: Container) -> None:
    """64 requests queued on one loop, one batch: each gets its own result, and the writer
    reaches into the loop once for the whole batch, not once per request."""
    writer = IngestWriter(container.uow, container.clock)

    async def requests() -> tuple[list[intake.IngestResult], int]:
        loop = asyncio.get_running_loop()
        calls: list[int] = []
        threadsafe = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
            calls.append(1)
            return threadsafe(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        stores = [
            asyncio.ensure_future(writer.store(delivery(container), event(f"k{n % 16}")))
            for n in range(64)
        ]
        await asyncio.sleep(0)  # every request is queued before the writer starts
        writer.start()
        return list(await asyncio.gather(*stores)), len(calls)

    try:
        results, calls = asyncio.run(requests())
    finally:
        writer.stop()
    outcomes = [r.results[0].outcome for r in results]
    assert outcomes[:16] == ["created"] * 16 and outcomes[16:] == ["duplicate"] * 48
    assert calls == 1


def test_a_request_on_an_event_loop_that_gave_up_is_not_stored(container: Container) -> None:
    writer = IngestWriter(container.uow, container.clock)

    async def requests() -> list[intake.IngestResult]:
        stores = [
            asyncio.ensure_future(writer.store(delivery(container), event(key)))
            for key in ("a", "gone", "b")
        ]
        await asyncio.sleep(0)
        stores[1].cancel()
        await asyncio.sleep(0)  # the cancellation reaches the request's future
        writer.start()
        return list(await asyncio.gather(stores[0], stores[2]))

    try:
        kept = asyncio.run(requests())
    finally:
        writer.stop()
    assert [r.results[0].outcome for r in kept] == ["created", "created"]
    with container.uow(read_only=True) as uow:
        alerts, _ = uow.alerts.search(AlertFilter(limit=10))
    assert sorted(a.dedup_key for a in alerts) == ["a", "b"]


def keyed(key: str, parsed: ParsedDelivery) -> ParsedDelivery:
    """The delivery with a redelivery key (the sender's id for it)."""
    return replace(parsed, delivery_key=key)


def test_one_batch_answers_as_if_stored_one_by_one(container: Container) -> None:
    """Repeats of an alert in the same batch count on the one it opened; a redelivery in the
    same batch changes nothing; a resolve between two triggers closes the first alert, so
    the second opens a new one (a flap)."""
    resolve = ParsedDelivery([AlertEvent(AlertSource.EVENTS, AlertAction.RESOLVE, "k", "ok")])
    two = ParsedDelivery([event("k").events[0], event("k", "disk fuller").events[0]])
    batch = [
        (delivery(container), event("k")),
        (delivery(container), two),
        (delivery(container), keyed("d-1", event("other"))),
        (delivery(container), keyed("d-1", event("other"))),
        (delivery(container), resolve),
        (delivery(container), event("k")),
    ]
    results = intake.ingest_batch(container.uow, container.clock, batch)
    outcomes = [[r.outcome for r in result.results] for result in results]
    assert outcomes == [
        ["created"],
        ["duplicate", "duplicate"],
        ["created"],
        [],
        ["resolved"],
        ["created"],
    ]
    assert [r.duplicate_delivery for r in results] == [False] * 3 + [True] + [False] * 2
    first, reopened = results[0].results[0].alert, results[5].results[0].alert
    assert first is not None and reopened is not None and first.id != reopened.id
    assert [a.id for r in results[1].results if (a := r.alert)] == [first.id, first.id]
    assert [a.dedup_count for r in results[1].results if (a := r.alert)] == [2, 3]
    assert reopened.flap_count == 1
    with container.uow(read_only=True) as uow:
        stored = uow.alerts.get(first.id)
        _, total = uow.alerts.search(AlertFilter(limit=10))
    assert stored is not None and stored.summary == "disk fuller" and stored.dedup_count == 3
    assert total == 3


def test_a_redelivery_in_a_later_batch_stores_nothing(container: Container) -> None:
    [first] = intake.ingest_batch(
        container.uow, container.clock, [(delivery(container), keyed("d-9", event("x")))]
    )
    [again] = intake.ingest_batch(
        container.uow, container.clock, [(delivery(container), keyed("d-9", event("x")))]
    )
    assert first.results[0].outcome == "created" and not first.duplicate_delivery
    assert again.duplicate_delivery and again.results == []
    with container.uow(read_only=True) as uow:
        [alert], _ = uow.alerts.search(AlertFilter(limit=10))
    assert alert.dedup_count == 1


def test_an_alert_reads_back_the_same_through_the_driver_and_sqlalchemy(
    container: Container,
) -> None:
    """The writer's answer (driver rows, SQLAlchemy's type conversions) equals what the
    repositories read: labels and details as JSON, times as aware UTC, flags as booleans."""
    rich = AlertEvent(
        AlertSource.EVENTS,
        AlertAction.TRIGGER,
        "rich",
        "p99 over 2 s",
        service="checkout",
        labels={"team": "payments", "tier": "1"},
        details={"nested": {"values": [1.5, None, "x"]}},
        is_test=True,
    )
    [result] = intake.ingest_batch(
        container.uow, container.clock, [(delivery(container), ParsedDelivery([rich]))]
    )
    written = result.results[0].alert
    assert written is not None
    with container.uow(read_only=True) as uow:
        assert uow.alerts.get(written.id) == written
    assert written.first_seen_at.tzinfo is not None and written.is_test is True
    assert written.labels == {"team": "payments", "tier": "1"}


def test_a_slow_batch_is_logged_with_its_size_and_time(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch that took SLOW_BATCH_SECONDS or more says so: every sender waited that long."""
    from so1.services.intake import writer as writer_module

    real = intake.ingest_batch

    def slow(*args: Any) -> list[intake.IngestResult]:
        time.sleep(0.2)
        return real(*args)

    monkeypatch.setattr(intake, "ingest_batch", slow)
    writer = IngestWriter(container.uow, container.clock)
    futures = [writer.submit(delivery(container), event(f"s{n}")) for n in range(3)]
    with caplog.at_level(logging.WARNING, logger="so1.ingest"):
        monkeypatch.setattr(writer_module, "SLOW_BATCH_SECONDS", 10.0)
        writer.start()
        try:
            [f.result(timeout=30) for f in futures]
            assert not caplog.records  # 0.2 s is under the bound
            monkeypatch.setattr(writer_module, "SLOW_BATCH_SECONDS", 0.1)
            writer.submit(delivery(container), event("late")).result(timeout=30)
        finally:
            writer.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith("a batch of 1 deliveries took 0.")
