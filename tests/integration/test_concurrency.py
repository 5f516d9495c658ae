"""Incident ids stay distinct and gapless when many writers declare at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.ports import IncidentFilter
from so1.services import incidents
from so1.services.context import Actor


def test_fifty_concurrent_declarations_get_sequential_ids(container: Container) -> None:
    def declare(n: int) -> str:
        new = incidents.NewIncident(title=f"storm {n}", severity=Severity.SEV3)
        return incidents.create_incident(container.uow, container.clock, Actor("t"), new).id

    with ThreadPoolExecutor(max_workers=25) as pool:
        ids = list(pool.map(declare, range(50)))

    day = container.clock.now().strftime("%Y%m%d")
    assert sorted(ids) == [f"INC-{day}-{n:04d}" for n in range(1, 51)]
    with container.uow(read_only=True) as uow:
        _, total = uow.incidents.search(IncidentFilter())
        assert total == 50
        assert len(uow.audit.search(100, 0, action="incident.create")) == 50
