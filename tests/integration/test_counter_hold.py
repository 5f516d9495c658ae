"""A triage pass that opens incidents holds the day's incident counter (a row lock on
PostgreSQL, until the pass commits: numbers stay gapless) only while it writes. What it
reads for a decision (the agent's inputs, the alerts a new incident gathers) is read before
its first number, so a second worker is not kept waiting on those reads (issue 18)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.ports import IncidentFilter
from so1.services.intake import deliveries as intake
from so1.services.triage.flow import process_pending

SERVICES = ("checkout", "search", "billing")
WINDOW_READ = "alerts.last_seen_at >="  # what reads a service's alerts in the window


def test_a_pass_reads_before_its_first_incident_number_and_only_writes_after(
    container: Container,
) -> None:
    events = [
        AlertEvent(
            AlertSource.EVENTS, AlertAction.TRIGGER, f"{service}-{n}", "error rate up", service
        )
        for n in range(2)
        for service in SERVICES
    ]
    delivery = Delivery(
        AlertSource.EVENTS, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED
    )
    intake.ingest(container.uow, container.clock, delivery, ParsedDelivery(events))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", seen)
    try:
        assert process_pending(container.uow, container.clock, container.triage_agent) == 6
    finally:
        event.remove(container.engine, "before_cursor_execute", seen)

    first_number = next(n for n, s in enumerate(statements) if "incident_day_counters" in s)
    window_reads = [n for n, s in enumerate(statements) if WINDOW_READ in s]
    assert len(window_reads) >= len(SERVICES)  # the agent's inputs and each gathering
    assert max(window_reads) < first_number, statements[first_number:]
    with container.uow(read_only=True) as uow:
        incidents, total = uow.incidents.search(IncidentFilter())
        counts = uow.alerts.count_for_incidents([i.id for i in incidents])
    assert total == len(SERVICES)
    assert sorted(counts.values()) == [2, 2, 2]  # each gathered its service's second alert
