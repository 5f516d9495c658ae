"""Two triage workers on PostgreSQL decide alerts of unrelated services at the same time,
while the alerts of one dependency group stay serialised (issue 18, item 3)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from so1.agents.registry import Agents
from so1.agents.triage import TriageInput, TriageReport
from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.catalog import CatalogService, Tier
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.ports import AlertFilter, IncidentFilter
from so1.services.intake import deliveries as intake
from so1.services.triage.flow import process_pending
from tests.e2e.intake_support import ScriptedTriage

ON_POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]


class CountingTriage(ScriptedTriage):
    """The scripted triage, counting the runs of each alert (called from two threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: Counter[str] = Counter()
        self._guard = threading.Lock()

    def run(self, inputs: TriageInput) -> TriageReport:
        with self._guard:
            self.runs[inputs.alert.id] += 1
        return super().run(inputs)


def _ingest(container: Container, alerts_by_service: dict[str, int]) -> None:
    events = [
        AlertEvent(AlertSource.EVENTS, AlertAction.TRIGGER, f"{service}-{n}", "errors up", service)
        for n in range(max(alerts_by_service.values()))
        for service, count in alerts_by_service.items()
        if n < count
    ]
    now = container.clock.now()
    delivery = Delivery(AlertSource.EVENTS, now, {}, b"{}", DeliveryOutcome.ACCEPTED)
    intake.ingest(container.uow, container.clock, delivery, ParsedDelivery(events))


def _two_workers(container: Container) -> list[int]:
    start = threading.Barrier(2)

    def work(_: int) -> int:
        start.wait()
        return process_pending(container.uow, container.clock, container.triage_agent)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(work, range(2)))


def _incident_of_each_alert(container: Container) -> dict[str | None, set[str | None]]:
    with container.uow(read_only=True) as uow:
        alerts, _ = uow.alerts.search(AlertFilter(limit=10_000))
        states = {uow.alerts.triage_state(a.id) for a in alerts}
    assert states <= {"incident", "correlated"}  # none left pending, none failed
    by_service: dict[str | None, set[str | None]] = {}
    for alert in alerts:
        by_service.setdefault(alert.service, set()).add(alert.incident_id)
    return by_service


@pytest.mark.parametrize("db_url", ON_POSTGRES, indirect=True)
def test_two_workers_share_a_backlog_of_unrelated_services_deciding_each_alert_once(
    container: Container,
) -> None:
    triage = CountingTriage()
    container.agents = Agents(triage=triage)
    _ingest(container, {f"svc-{n:02}": 15 for n in range(40)})
    handled = _two_workers(container)
    assert sum(handled) == 600
    assert min(handled) > 0  # both workers decided alerts: parallel, not failover
    assert set(triage.runs.values()) == {1}  # no alert triaged twice
    by_service = _incident_of_each_alert(container)
    assert all(len(ids) == 1 and None not in ids for ids in by_service.values())
    with container.uow(read_only=True) as uow:
        _, incidents = uow.incidents.search(IncidentFilter(limit=500))
    assert incidents == 40  # one incident per service, none opened twice


@pytest.mark.parametrize("db_url", ON_POSTGRES, indirect=True)
def test_alerts_of_one_dependency_group_are_serialised_into_one_incident(
    container: Container,
) -> None:
    container.agents = Agents(triage=CountingTriage())
    now = container.clock.now()
    with container.uow() as uow:
        uow.catalog.upsert(CatalogService("db", Tier.CRITICAL, updated_at=now))
        for name in ("api", "jobs", "web"):
            service = CatalogService(name, Tier.CRITICAL, dependencies=["db"], updated_at=now)
            uow.catalog.upsert(service)
        uow.commit()
    _ingest(container, {"api": 120, "jobs": 120, "web": 120, "db": 120})
    assert sum(_two_workers(container)) == 480
    by_service = _incident_of_each_alert(container)
    (incident,) = set().union(*by_service.values())
    assert incident is not None
