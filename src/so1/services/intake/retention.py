"""Retention: the clocks job removes what is past its time (SO1_ALERT_RETENTION_DAYS,
SO1_DELIVERY_RETENTION_DAYS), and makes room for the coming weeks.

Only finished data goes: an alert once resolved and neither seen nor resolved within the
retention, and not part of an open incident; a delivery (the raw request, kept for
inspection) once older than its retention. Where storage is split by week (PostgreSQL),
whole weeks are dropped, and a week is kept while any alert in it is not expired; what
is stored row by row (SQLite, PostgreSQL's default partition) goes in small batches, each
its own transaction, so intake never waits long behind it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from so1.ports import Clock, UnitOfWorkFactory

log = logging.getLogger("so1.retention")

BATCH = 500
MAX_BATCHES = 20  # per table and pass: the rest waits for the next pass


@dataclass(frozen=True, slots=True)
class Retention:
    alerts: timedelta = timedelta(days=90)
    deliveries: timedelta = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Pruned:
    alerts: int
    deliveries: int
    weeks_dropped: tuple[str, ...]
    weeks_created: tuple[str, ...]


def apply_retention(uow_factory: UnitOfWorkFactory, clock: Clock, keep: Retention) -> Pruned:
    now = clock.now()
    alerts_before, deliveries_before = now - keep.alerts, now - keep.deliveries
    with uow_factory() as uow:
        created = uow.intake.prepare_storage(now)
        dropped = uow.intake.drop_expired_weeks(alerts_before, deliveries_before)
        uow.commit()
    alerts = deliveries = 0
    for _ in range(MAX_BATCHES):
        with uow_factory() as uow:
            removed = uow.alerts.prune_expired(alerts_before, BATCH)
            uow.commit()
        alerts += removed
        if removed < BATCH:
            break
    for _ in range(MAX_BATCHES):
        with uow_factory() as uow:
            removed = uow.intake.prune_deliveries(deliveries_before, now, BATCH)
            uow.commit()
        deliveries += removed
        if removed < BATCH:
            break
    if alerts or deliveries:
        log.info("retention removed %d alerts and %d deliveries", alerts, deliveries)
    return Pruned(alerts, deliveries, tuple(dropped), tuple(created))
