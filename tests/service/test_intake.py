"""Phase 1, intake: deliveries stored and their events applied in one transaction, the dedup
rule (one open alert per identity), redeliveries, silences, and the wake-up for triage."""

from __future__ import annotations

from datetime import timedelta

from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, AlertStatus, ParsedDelivery
from so1.domain.events import AlertStored
from so1.domain.intake import Delivery, DeliveryOutcome, Silence
from so1.services.intake.deliveries import ingest
from tests.fakes import FakeClock, FakeDatabase

POOL = AlertEvent(
    AlertSource.EVENTS,
    AlertAction.TRIGGER,
    "pool-1",
    "Connection pool at 100%",
    service="control-plane-api",
    metric="db_pool_utilization",
    current_value="100%",
)


def deliver(
    db: FakeDatabase, clock: FakeClock, *events: AlertEvent, key: str | None = None
) -> list[str]:
    """Ingest one delivery; the outcome of each event (or ``redelivery``)."""
    delivery = Delivery(AlertSource.EVENTS, clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED)
    result = ingest(db.uow, clock, delivery, ParsedDelivery(list(events), delivery_key=key))
    return ["redelivery"] if result.duplicate_delivery else [r.outcome for r in result.results]


def test_a_new_alert_waits_for_triage_and_a_repeat_is_counted(
    db: FakeDatabase, clock: FakeClock
) -> None:
    assert deliver(db, clock, POOL) == ["created"]
    clock.advance(timedelta(minutes=1))
    assert deliver(db, clock, POOL) == ["duplicate"]

    [row] = db.committed().alerts.values()
    assert (row.alert.status, row.alert.dedup_count, row.triage_state) == (
        AlertStatus.FIRING,
        2,
        "pending",
    )
    assert row.alert.last_seen_at == clock.now()
    assert db.dispatched == [AlertStored(row.alert.id)]  # the repeat wakes nothing


def test_a_redelivery_changes_nothing(db: FakeDatabase, clock: FakeClock) -> None:
    assert deliver(db, clock, POOL, key="webhook-7") == ["created"]
    assert deliver(db, clock, POOL, key="webhook-7") == ["redelivery"]
    [row] = db.committed().alerts.values()
    assert row.alert.dedup_count == 1
    assert len(db.committed().deliveries) == 1


def test_resolving_closes_the_identity_and_a_new_trigger_opens_another(
    db: FakeDatabase, clock: FakeClock
) -> None:
    deliver(db, clock, POOL)
    resolve = AlertEvent(AlertSource.EVENTS, AlertAction.RESOLVE, "pool-1", "recovered")
    assert deliver(db, clock, resolve) == ["resolved"]
    assert deliver(db, clock, resolve) == ["dropped"]  # nothing open any more
    clock.advance(timedelta(minutes=2))
    assert deliver(db, clock, POOL) == ["created"]

    alerts = sorted(db.committed().alerts.values(), key=lambda r: r.alert.first_seen_at)
    assert [r.alert.status for r in alerts] == [AlertStatus.RESOLVED, AlertStatus.FIRING]
    assert alerts[1].alert.flap_count == 1  # back within the flap window


def test_a_silenced_alert_is_suppressed_and_not_triaged(db: FakeDatabase, clock: FakeClock) -> None:
    silence = Silence(
        {"service": "control-plane-api"},
        clock.now() - timedelta(minutes=5),
        clock.now() + timedelta(hours=1),
        "maintenance",
        "alice",
        clock.now(),
    )
    with db.uow() as uow:
        uow.intake.add_silence(silence)
        uow.commit()
    assert deliver(db, clock, POOL) == ["created"]
    [row] = db.committed().alerts.values()
    assert (row.alert.status, row.triage_state) == (AlertStatus.SUPPRESSED, "suppressed")
    assert db.dispatched == []
