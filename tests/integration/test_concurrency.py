"""Incident ids stay distinct and gapless when many writers declare at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.ports import AlertFilter, IncidentFilter
from so1.services.incidents import lifecycle as incidents
from so1.services.incidents.recording import Actor


def test_fifty_concurrent_declarations_get_sequential_ids(container: Container) -> None:
    def declare(n: int) -> str:
        new = incidents.NewIncident(title=f"storm {n}", severity=Severity.SEV3)
        return incidents.create_incident(container.uow, container.clock, Actor("t"), new).id

    with ThreadPoolExecutor(max_workers=25) as pool:
        ids = list(pool.map(declare, range(50)))

    day = container.clock.now().strftime("%Y%m%d")
    assert sorted(ids) == [f"INC-{day}-{n:04d}" for n in range(1, 51)]
    with container.uow(read_only=True) as uow:
        _, total = uow.incidents.search(IncidentFilter())
        assert total == 50
        assert len(uow.audit.search(100, 0, action="incident.create")) == 50


def test_identical_deliveries_at_once_make_exactly_one_alert(container: Container) -> None:
    from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
    from so1.domain.intake import Delivery, DeliveryOutcome
    from so1.services.intake import deliveries as intake

    event = AlertEvent(AlertSource.EVENTS, AlertAction.TRIGGER, "same-key", "disk full")

    def deliver(_: int) -> str | None:
        delivery = Delivery(
            AlertSource.EVENTS, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED
        )
        result = intake.ingest(container.uow, container.clock, delivery, ParsedDelivery([event]))
        alert = result.results[0].alert
        return alert.id if alert else None

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = set(pool.map(deliver, range(40)))
    assert len(ids) == 1
    with container.uow(read_only=True) as uow:
        alerts, total = uow.alerts.search(AlertFilter())
    assert total == 1
    assert alerts[0].dedup_count == 40


def test_redelivered_webhook_is_stored_once(container: Container) -> None:
    from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
    from so1.domain.intake import Delivery, DeliveryOutcome
    from so1.services.intake import deliveries as intake

    event = AlertEvent(AlertSource.PAGERDUTY, AlertAction.TRIGGER, "PGR0VU2", "bump")
    parsed = ParsedDelivery([event], delivery_key="webhook-1")

    def deliver(_: int) -> bool:
        delivery = Delivery(
            AlertSource.PAGERDUTY, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED
        )
        return intake.ingest(container.uow, container.clock, delivery, parsed).duplicate_delivery

    with ThreadPoolExecutor(max_workers=10) as pool:
        duplicates = list(pool.map(deliver, range(10)))
    assert duplicates.count(False) == 1


def test_same_delivery_key_a_day_later_is_a_new_delivery(container: Container) -> None:
    from datetime import timedelta

    from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
    from so1.domain.intake import Delivery, DeliveryOutcome
    from so1.services.intake import deliveries as intake

    event = AlertEvent(AlertSource.SENTRY, AlertAction.RESOLVE, "1170820242", "resolved")
    parsed = ParsedDelivery([event], delivery_key="issue:resolved:1170820242")

    def deliver() -> bool:
        now = container.clock.now()
        delivery = Delivery(AlertSource.SENTRY, now, {}, b"{}", DeliveryOutcome.ACCEPTED)
        return intake.ingest(container.uow, container.clock, delivery, parsed).duplicate_delivery

    assert deliver() is False
    assert deliver() is True
    container.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]
    assert deliver() is False
