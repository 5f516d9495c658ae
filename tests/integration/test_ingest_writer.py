"""Group commit: many concurrent deliveries, one writer; a bad one fails alone."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

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


def test_a_failing_delivery_does_not_sink_its_batch(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = intake.apply_event

    def fussy(uow, now, ev, integration_id, silences):
        if ev.dedup_key == "poison":
            raise RuntimeError("cannot store this one")
        return original(uow, now, ev, integration_id, silences)

    monkeypatch.setattr(intake, "apply_event", fussy)
    writer = IngestWriter(container.uow, container.clock)
    futures: list[Future[intake.IngestResult]] = []
    for key in ("a", "poison", "b"):
        futures.append(writer.submit(delivery(container), event(key)))
    writer.start()  # all three are queued, so they form one batch
    try:
        good = [futures[0].result(timeout=30), futures[2].result(timeout=30)]
        with pytest.raises(RuntimeError, match="cannot store"):
            futures[1].result(timeout=30)
    finally:
        writer.stop()
    assert [r.results[0].outcome for r in good] == ["created", "created"]


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
