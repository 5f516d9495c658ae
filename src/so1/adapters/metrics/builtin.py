"""The builtin metrics source: samples pushed to ``POST /v1/metrics``, read from the
database and thinned to at most one point per step (the last sample in each step)."""

from __future__ import annotations

from datetime import datetime

from so1.domain.catalog import CatalogService
from so1.domain.metrics import Series
from so1.ports import UnitOfWorkFactory


class BuiltinMetrics:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def series(
        self, service: CatalogService, metric: str, start: datetime, end: datetime, step: int
    ) -> Series:
        with self._uow_factory(read_only=True) as uow:
            raw = uow.metrics.range(service.name, metric, start, end)
        return Series(service.name, metric, thin(raw.points, start, step))


def thin(
    points: list[tuple[datetime, float]], start: datetime, step: int
) -> list[tuple[datetime, float]]:
    """Keep the last point of each ``step``-second bucket counted from ``start``."""
    buckets: dict[int, tuple[datetime, float]] = {}
    for at, value in points:
        buckets[int((at - start).total_seconds()) // max(step, 1)] = (at, value)
    return [buckets[k] for k in sorted(buckets)]
