"""Use cases for service metrics: push samples (builtin source), read series for an incident
window from whichever source is configured, and drop samples past the retention period."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from so1.domain.catalog import CatalogService, Tier
from so1.domain.metrics import METRICS, Sample, Series
from so1.errors import ValidationFailed
from so1.ports import Clock, MetricsSource, UnitOfWorkFactory

MAX_FUTURE = timedelta(minutes=5)  # clock skew allowed on pushed samples
MAX_POINTS_PER_SERIES = 2_000


@dataclass(frozen=True, slots=True)
class SampleIn:
    service: str
    metric: str
    value: float
    at: datetime | None = None


def record_samples(uow_factory: UnitOfWorkFactory, clock: Clock, given: Sequence[SampleIn]) -> int:
    """Stores the samples (one transaction: all or none); returns how many."""
    now = clock.now()
    samples = [_checked(i, s, now) for i, s in enumerate(given)]
    with uow_factory() as uow:
        uow.metrics.add(samples)
        uow.commit()
    return len(samples)


def _checked(index: int, given: SampleIn, now: datetime) -> Sample:
    where = f"samples[{index}]"
    if given.metric not in METRICS:
        known = ", ".join(METRICS)
        raise ValidationFailed(
            f"{where}: unknown metric '{given.metric}' (known: {known})", field=f"{where}.metric"
        )
    if not math.isfinite(given.value):
        raise ValidationFailed(f"{where}: value must be a finite number", field=f"{where}.value")
    at = given.at or now
    if at > now + MAX_FUTURE:
        raise ValidationFailed(f"{where}: 'at' is in the future", field=f"{where}.at")
    return Sample(given.service, given.metric, at, given.value)


def metric_series(
    uow_factory: UnitOfWorkFactory,
    source: MetricsSource,
    service: str,
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
    step: int | None = None,
) -> list[Series]:
    if end <= start:
        raise ValidationFailed("'end' must be after 'start'", field="end")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValidationFailed(
            f"unknown metric '{unknown[0]}' (known: {', '.join(METRICS)})", field="metric"
        )
    span = (end - start).total_seconds()
    step = max(step or 0, math.ceil(span / MAX_POINTS_PER_SERIES), 1)
    with uow_factory(read_only=True) as uow:
        entry = uow.catalog.get(service) or CatalogService(service, Tier.MEDIUM)
    return [source.series(entry, metric, start, end, step) for metric in metrics]


def purge_expired(uow_factory: UnitOfWorkFactory, clock: Clock, retention: timedelta) -> int:
    with uow_factory() as uow:
        dropped = uow.metrics.purge_before(clock.now() - retention)
        uow.commit()
    return dropped
