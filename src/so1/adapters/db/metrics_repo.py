"""Metric samples pushed to SO1 (the builtin metrics source): one value per service, metric
and instant (a second push for the same instant replaces the first), kept for the retention
period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Connection, Double, Index, String, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from so1.adapters.db.columns import UTCDateTime, metadata
from so1.domain.metrics import Sample, Series

metric_samples = Table(
    "metric_samples",
    metadata,
    Column("service", String(100), primary_key=True),
    Column("metric", String(50), primary_key=True),
    Column("at", UTCDateTime(), primary_key=True),
    Column("value", Double(), nullable=False),
    Index("ix_metric_samples_at", "at"),
)

_c = metric_samples.c


class SqlMetricSampleRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        rows = [
            {"service": s.service, "metric": s.metric, "at": s.at, "value": s.value}
            for s in samples
        ]
        dialect = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        statement = dialect(metric_samples)
        keys = [_c.service, _c.metric, _c.at]
        upsert = statement.on_conflict_do_update(
            index_elements=keys, set_={"value": statement.excluded.value}
        )
        self._conn.execute(upsert, rows)

    def range(self, service: str, metric: str, start: datetime, end: datetime) -> Series:
        query = (
            select(_c.at, _c.value)
            .where(_c.service == service, _c.metric == metric, _c.at >= start, _c.at <= end)
            .order_by(_c.at)
        )
        return Series(service, metric, [(r.at, r.value) for r in self._conn.execute(query)])

    def purge_before(self, cutoff: datetime) -> int:
        return self._conn.execute(delete(metric_samples).where(_c.at < cutoff)).rowcount
