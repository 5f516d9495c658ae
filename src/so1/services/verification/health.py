"""Probing services' own health checks while they have open incidents (seed Phase 3 "Verify
service health"), from the clocks job.

Each pass asks every affected service with a ``health_url`` in the catalog once, keeps the
answer as a ``health_failing`` sample (the gate in services/verification/gates.py reads them), and
notes on the service's open incidents when the answer turns from passing to failing or back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from so1.domain.catalog import CatalogService
from so1.domain.health import HEALTH_METRIC, HealthReading
from so1.domain.incidents import OPEN_STATUSES, Incident, TimelineEvent
from so1.domain.metrics import Sample
from so1.ports import Clock, HealthProbe, IncidentFilter, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("so1.health")
PROBER = "so1-health-probe"
WATCH_LIMIT = 500
PARALLEL = 8  # health checks asked at once
REMEMBER = timedelta(hours=1)  # an older reading does not count as "the previous one"


def probe_services(uow_factory: UnitOfWorkFactory, clock: Clock, probe: HealthProbe) -> int:
    """One pass; returns how many services were probed."""
    with uow_factory(read_only=True) as uow:
        found, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=WATCH_LIMIT))
        services = {i.service for i in found if i.service}
        entries = [e for e in (uow.catalog.get(s) for s in sorted(services)) if e and e.health_url]
    urls = [str(e.health_url) for e in entries]
    if not urls:
        return 0
    # Side by side: a few slow health checks must not hold up the runbook clocks behind them.
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(urls))) as pool:
        readings = list(pool.map(probe.check, urls))
    for entry, reading in zip(entries, readings, strict=True):
        _keep(uow_factory, clock, entry, reading, [i for i in found if i.service == entry.name])
    return len(entries)


def _keep(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    entry: CatalogService,
    reading: HealthReading,
    incidents: Sequence[Incident],
) -> None:
    now = clock.now()
    with uow_factory() as uow:
        before = _last_reading(uow, entry.name, now)
        uow.metrics.add([Sample(entry.name, HEALTH_METRIC, now, reading.value)])
        if before != reading.value and (before is not None or not reading.ok):
            _note(uow, entry, reading, incidents, now)
        uow.commit()
    if not reading.ok:
        log.info("health check of %s failing: %s", entry.name, reading.detail)


def _last_reading(uow: UnitOfWork, service: str, now: datetime) -> float | None:
    """The previous probe's value, if there was one lately."""
    points = uow.metrics.range(service, HEALTH_METRIC, now - REMEMBER, now).points
    return points[-1][1] if points else None


def _note(
    uow: UnitOfWork,
    entry: CatalogService,
    reading: HealthReading,
    incidents: Sequence[Incident],
    now: datetime,
) -> None:
    state = "passing" if reading.ok else "failing"
    # Pass or fail and the status code only: the answer's body stays out of the record.
    text = f"health check of {entry.name} {state} ({reading.outcome})"
    data = {"service": entry.name, "ok": reading.ok, "status_code": reading.status_code}
    for incident in incidents:
        uow.timeline.add(TimelineEvent(incident.id, now, "health.changed", PROBER, text, data))
