"""Service metrics: samples pushed to SO1 and the sources that answer range queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from so1.domain.catalog import CatalogService
from so1.domain.metrics import Sample, Series


class MetricSampleRepository(Protocol):
    def add(self, samples: Sequence[Sample]) -> None: ...
    def range(self, service: str, metric: str, start: datetime, end: datetime) -> Series: ...
    def purge_before(self, cutoff: datetime) -> int: ...


class MetricsSource(Protocol):
    """Where service metrics are read: samples pushed to SO1, or a Prometheus server."""

    def series(
        self, service: CatalogService, metric: str, start: datetime, end: datetime, step: int
    ) -> Series:
        """``metric`` of ``service`` from ``start`` to ``end``, one point per ``step``
        seconds at most; raises Unavailable when the source cannot answer."""
        ...
