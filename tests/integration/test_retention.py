"""Retention (SO1_ALERT_RETENTION_DAYS, SO1_DELIVERY_RETENTION_DAYS), on both engines:
only finished data goes; PostgreSQL drops whole weeks, SQLite deletes row by row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from so1.adapters.clock import FixedClock
from so1.adapters.db import partitions
from so1.adapters.db.intake_tables import deliveries
from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.domain.severity import Severity
from so1.services.intake.retention import Retention, apply_retention
from so1.services.intake.writer import IngestWriter
from tests.conftest import NOW, open_incident

KEEP = Retention(alerts=timedelta(days=90), deliveries=timedelta(days=14))
T0 = NOW - timedelta(days=119)  # a Monday, as NOW: each step of WEEK is the next week
WEEK = timedelta(weeks=1)


@pytest.fixture
def writer(container: Container) -> Iterator[IngestWriter]:
    started = IngestWriter(container.uow, container.clock)
    started.start()
    yield started
    started.stop()


def send(container: Container, writer: IngestWriter, key: str, action: AlertAction) -> str:
    """Store one event as a keyed delivery at the clock's time; the alert's id."""
    at = container.clock.now()
    delivery = Delivery(
        AlertSource.EVENTS, at, {}, b"{}", DeliveryOutcome.ACCEPTED, delivery_key=f"{key}@{at}"
    )
    event = AlertEvent(AlertSource.EVENTS, action, key, f"{key} is down")
    result = writer.submit(delivery, ParsedDelivery([event])).result(timeout=30)
    alert = result.results[0].alert
    assert alert is not None
    return alert.id


def stored(container: Container) -> set[str]:
    with container.engine.connect() as conn:
        return set(conn.execute(text("SELECT dedup_key FROM alerts")).scalars())


def delivery_times(container: Container) -> list[datetime]:
    with container.engine.connect() as conn:
        return list(conn.execute(select(deliveries.c.received_at)).scalars())


def test_only_finished_alerts_and_old_deliveries_go(
    container: Container, writer: IngestWriter, clock: FixedClock
) -> None:
    postgres = container.engine.dialect.name == "postgresql"
    with container.uow() as uow:  # the weeks of T0 and the next (the clocks job did then)
        uow.intake.prepare_storage(T0)
        uow.intake.prepare_storage(T0 + 2 * WEEK)
        uow.commit()
    clock.set(T0 - WEEK)  # a week without a partition: PostgreSQL's default partition
    send(container, writer, "default-resolved", AlertAction.TRIGGER)
    send(container, writer, "default-resolved", AlertAction.RESOLVE)
    clock.set(T0)
    send(container, writer, "resolved-beside-open", AlertAction.TRIGGER)
    send(container, writer, "resolved-beside-open", AlertAction.RESOLVE)
    send(container, writer, "still-open", AlertAction.TRIGGER)
    clock.set(T0 + WEEK)
    in_incident = send(container, writer, "in-open-incident", AlertAction.TRIGGER)
    send(container, writer, "in-open-incident", AlertAction.RESOLVE)
    incident = open_incident(container, "still being handled", Severity.SEV2)
    with container.uow() as uow:
        uow.alerts.attach([in_incident], incident.id)
        uow.commit()
    clock.set(T0 + 2 * WEEK)
    send(container, writer, "all-resolved-1", AlertAction.TRIGGER)
    send(container, writer, "all-resolved-1", AlertAction.RESOLVE)
    send(container, writer, "all-resolved-2", AlertAction.TRIGGER)
    send(container, writer, "all-resolved-2", AlertAction.RESOLVE)
    clock.set(NOW - timedelta(days=85))  # within retention, though its week is old
    send(container, writer, "recent", AlertAction.TRIGGER)
    send(container, writer, "recent", AlertAction.RESOLVE)
    clock.set(NOW - timedelta(days=1))
    send(container, writer, "yesterday", AlertAction.TRIGGER)
    clock.set(NOW)

    pruned = apply_retention(container.uow, clock, KEEP)

    kept = {"still-open", "in-open-incident", "recent", "yesterday"}
    if postgres:  # a week holding an alert not yet expired is kept whole
        assert stored(container) == kept | {"resolved-beside-open"}
        assert partitions.week_name("alerts", partitions.week_start(T0 + 2 * WEEK)) in (
            pruned.weeks_dropped
        )
        assert pruned.alerts == 1  # from the default partition, row by row
    else:
        assert stored(container) == kept
        assert pruned.alerts == 4
    assert all(at > NOW - KEEP.deliveries for at in delivery_times(container))
    assert len(delivery_times(container)) == 1  # yesterday's
    again = apply_retention(container.uow, clock, KEEP)
    assert (again.alerts, again.deliveries, again.weeks_dropped) == (0, 0, ())


def test_a_resolved_identity_opens_a_new_alert_after_its_week_is_dropped(
    container: Container, writer: IngestWriter, clock: FixedClock
) -> None:
    with container.uow() as uow:
        uow.intake.prepare_storage(T0)
        uow.commit()
    clock.set(T0)
    first = send(container, writer, "db-down", AlertAction.TRIGGER)
    assert send(container, writer, "db-down", AlertAction.TRIGGER) == first  # counted
    send(container, writer, "db-down", AlertAction.RESOLVE)
    clock.set(NOW)
    apply_retention(container.uow, clock, KEEP)
    assert stored(container) == set()
    again = send(container, writer, "db-down", AlertAction.TRIGGER)
    assert again != first
    assert send(container, writer, "db-down", AlertAction.TRIGGER) == again
    with container.uow(read_only=True) as uow:
        found = uow.alerts.get(again)
    assert found is not None
    assert found.dedup_count == 2


def test_the_settings_reach_the_clocks_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from so1.bootstrap import _job_settings
    from so1.config import Settings

    assert _job_settings(Settings()).retention == Retention(timedelta(days=90), timedelta(days=14))
    monkeypatch.setenv("SO1_ALERT_RETENTION_DAYS", "30")
    monkeypatch.setenv("SO1_DELIVERY_RETENTION_DAYS", "2")
    assert _job_settings(Settings()).retention == Retention(timedelta(days=30), timedelta(days=2))


@pytest.mark.postgres
def test_the_reset_between_tests_empties_every_partition_and_key_table(
    postgres_url: str,
) -> None:
    """tests/conftest.py truncates the tables its probe finds filled: a partition's rows and
    the key tables' must be found too, or the next test's upsert meets an old key."""
    from sqlalchemy import create_engine

    from tests.conftest import _truncate_postgres

    engine = create_engine(postgres_url)
    at = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO alert_open_keys VALUES ('events', 'k', 'a1', :at)"), {"at": at}
            )
            conn.execute(text("INSERT INTO delivery_keys VALUES ('events', 'k', :at)"), {"at": at})
            for stored_at in (at, at - timedelta(weeks=500)):  # a week, and the default
                conn.execute(
                    text(
                        "INSERT INTO deliveries (source, received_at, headers, body, outcome)"
                        " VALUES ('events', :at, '{}', '', 'accepted')"
                    ),
                    {"at": stored_at},
                )
        _truncate_postgres(postgres_url)
        with engine.connect() as conn:
            tables = conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r'"
                    " AND relnamespace = 'public'::regnamespace AND relname <> 'alembic_version'"
                )
            ).scalars()
            filled = [
                name
                for name in tables
                if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{name}")')).scalar_one()
            ]
        assert filled == []
    finally:
        engine.dispose()
