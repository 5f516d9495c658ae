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
from so1.domain.incidents import OPEN_STATUSES, Incident
from so1.domain.metrics import Sample
from so1.domain.timeline import EventKind
from so1.ports import Clock, HealthProbe, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, note
from so1.services.isolation import each, guarded

log = logging.getLogger("so1.health")
PROBER = Actor(name="so1-health-probe")
WATCH_LIMIT = 500
PARALLEL = 8  # health checks asked at once
REMEMBER = timedelta(hours=1)  # an older reading does not count as "the previous one"


def probe_services(uow_factory: UnitOfWorkFactory, clock: Clock, probe: HealthProbe) -> int:
    """One pass; returns how many services' readings were kept."""
    with uow_factory(read_only=True) as uow:
        found, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=WATCH_LIMIT))
        services = sorted({i.service for i in found if i.service})
        entries = [e for s in services if (e := _entry(uow, s)) and e.health_url]
    urls = [str(e.health_url) for e in entries]
    if not urls:
        return 0
    # Side by side: a few slow health checks must not hold up the runbook clocks behind them.
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(urls))) as pool:
        readings = list(pool.map(lambda e: _probe(probe, e), entries))

    def keep(pair: tuple[CatalogService, HealthReading | None]) -> int:
        entry, reading = pair
        if reading is None:
            return 0
        _keep(uow_factory, clock, entry, reading, [i for i in found if i.service == entry.name])
        return 1

    return each("health probe", zip(entries, readings, strict=True), lambda p: p[0].name, keep)


def _entry(uow: UnitOfWork, service: str) -> CatalogService | None:
    """The service's catalog entry; None (logged) when it cannot be read."""
    return guarded("health probe", service, lambda: uow.catalog.get(service), None)


def _probe(probe: HealthProbe, entry: CatalogService) -> HealthReading | None:
    """The reading; None (logged) when the probe itself failed: no sample is kept."""
    return guarded("health probe", entry.name, lambda: probe.check(str(entry.health_url)), None)


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
        note(uow, PROBER, now, incident.id, EventKind.HEALTH_CHANGED, text, data)
