"""Domain events reach the dispatcher only after their unit of work commits, on both engines:
what they announce is already readable when the job is woken, a rollback wakes nothing, and
one commit wakes each job once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.comms import Destination, Outbound
from so1.domain.events import MessageQueued
from so1.domain.intake import DEFAULT_RULE, Delivery, DeliveryOutcome
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.ports import JobState, UnitOfWork
from so1.services.background import DELIVERY, TRIAGE
from so1.services.declaration.outbox import post_to_war_room, queue_message
from so1.services.incidents.recording import Actor
from so1.services.intake import deliveries as intake
from so1.services.intake.correlation import add_silence
from so1.services.triage.joining import join_incident
from tests.conftest import open_incident

Probe = Callable[[UnitOfWork], int]


class RecordingRunner:
    """A JobRunner that notes each wake-up and what a new transaction saw at that moment."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.woken: list[str] = []
        self.seen: list[int] = []
        self.probe: Probe = lambda uow: 0

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def states(self) -> list[JobState]:
        return []

    def wake(self, name: str) -> None:
        self.woken.append(name)
        with self.container.uow(read_only=True) as uow:  # only committed rows are visible
            self.seen.append(self.probe(uow))


@pytest.fixture
def runner(container: Container) -> RecordingRunner:
    recording = RecordingRunner(container)
    container.jobs.dispatcher.runner = recording
    return recording


def war_room_note(incident_id: str, text: str, now: datetime) -> Outbound:
    return Outbound(incident_id, Destination.WAR_ROOM, "internal", "note", text, now)


def messages_of(incident_id: str) -> Probe:
    return lambda uow: len(uow.outbox.for_incident(incident_id))


def test_a_queued_message_wakes_delivery_once_it_is_committed(
    container: Container, runner: RecordingRunner
) -> None:
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    runner.probe = messages_of(incident.id)
    post_to_war_room(container.uow, container.clock, Actor("ann"), incident.id, "looking")
    assert runner.woken == [DELIVERY]
    assert runner.seen == [1]  # the message was durable before delivery was woken


def test_a_rolled_back_unit_of_work_dispatches_nothing(
    container: Container, runner: RecordingRunner
) -> None:
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    now = container.clock.now()

    def queue_then_fail() -> None:
        with container.uow() as uow:
            queue_message(uow, war_room_note(incident.id, "never sent", now))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        queue_then_fail()
    with container.uow() as uow:  # left without commit(): rolled back too
        queue_message(uow, war_room_note(incident.id, "never sent either", now))
    assert runner.woken == []
    with container.uow(read_only=True) as uow:
        assert uow.outbox.for_incident(incident.id) == []


def test_events_of_a_rolled_back_block_do_not_leak_into_the_next_commit(
    container: Container, runner: RecordingRunner
) -> None:
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    unit = container.uow()

    def add_then_fail() -> None:
        with unit:
            unit.add_event(MessageQueued(incident.id, Destination.WAR_ROOM))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        add_then_fail()
    with unit:  # the same unit of work object, reused
        unit.commit()
    assert runner.woken == []


def test_one_commit_wakes_each_job_once(container: Container, runner: RecordingRunner) -> None:
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    runner.probe = messages_of(incident.id)
    now = container.clock.now()
    with container.uow() as uow:
        for n in range(5):
            queue_message(uow, war_room_note(incident.id, f"update {n}", now))
        uow.commit()
    assert runner.woken == [DELIVERY]
    assert runner.seen == [5]


def delivery(container: Container) -> Delivery:
    return Delivery(AlertSource.EVENTS, container.clock.now(), {}, b"{}", DeliveryOutcome.ACCEPTED)


def firing(key: str, service: str = "checkout") -> ParsedDelivery:
    event = AlertEvent(
        AlertSource.EVENTS, AlertAction.TRIGGER, key, "5xx above 5%", service=service
    )
    return ParsedDelivery([event])


def pending_triage(key: str) -> Probe:
    def probe(uow: UnitOfWork) -> int:
        alert = uow.alerts.find(AlertSource.EVENTS, key)
        return int(alert is not None and uow.alerts.triage_state(alert.id) == "pending")

    return probe


def test_a_new_firing_alert_wakes_triage_after_its_commit(
    container: Container, runner: RecordingRunner
) -> None:
    runner.probe = pending_triage("k1")
    intake.ingest(container.uow, container.clock, delivery(container), firing("k1"))
    assert runner.woken == [TRIAGE]
    assert runner.seen == [1]  # the alert was stored, pending triage, when triage was woken


def test_duplicates_and_silenced_alerts_wake_nothing(
    container: Container, runner: RecordingRunner
) -> None:
    intake.ingest(container.uow, container.clock, delivery(container), firing("k1"))
    runner.woken.clear()
    intake.ingest(container.uow, container.clock, delivery(container), firing("k1"))
    assert runner.woken == []  # a duplicate of an open alert
    now = container.clock.now()
    add_silence(
        container.uow,
        container.clock,
        Actor("ann"),
        {"service": "billing"},
        "maintenance",
        None,
        now + timedelta(hours=1),
    )
    intake.ingest(container.uow, container.clock, delivery(container), firing("k2", "billing"))
    assert runner.woken == []  # suppressed: never triaged


def test_a_dispatcher_that_cannot_wake_leaves_the_commit_standing(container: Container) -> None:
    class Broken:
        def start(self) -> None: ...
        def stop(self) -> None: ...
        def states(self) -> list[JobState]:
            return []

        def wake(self, name: str) -> None:
            raise OSError("job engine unreachable")

    container.jobs.dispatcher.runner = Broken()
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    stored = post_to_war_room(container.uow, container.clock, Actor("ann"), incident.id, "hi")
    with container.uow(read_only=True) as uow:
        assert [m.id for m in uow.outbox.for_incident(incident.id)] == [stored.id]


def test_without_a_runner_nothing_is_woken_and_the_work_waits(container: Container) -> None:
    incident = open_incident(container, "Checkout errors", Severity.SEV2)
    post_to_war_room(container.uow, container.clock, Actor("ann"), incident.id, "hi")
    with container.uow(read_only=True) as uow:  # the delivery job's polling finds it
        assert uow.outbox.any_due(container.clock.now())


def test_timeline_lines_written_by_the_system_have_their_audit_row(container: Container) -> None:
    """Correlation (triage's join_incident) and a person's war-room message both go through
    record(): each timeline line has an audit row with its kind, actor and incident."""
    incident = open_incident(container, "Checkout errors", Severity.SEV2, service="checkout")
    intake.ingest(container.uow, container.clock, delivery(container), firing("k1"))
    now = container.clock.now()
    with container.uow() as uow:
        alert = uow.alerts.find(AlertSource.EVENTS, "k1")
        assert alert is not None
        join_incident(uow, now, [alert], incident.id, DEFAULT_RULE)
        uow.commit()
    post_to_war_room(container.uow, container.clock, Actor("ann"), incident.id, "on it")
    with container.uow(read_only=True) as uow:
        kinds = [e.kind for e in uow.timeline.for_incident(incident.id)]
        audited = {
            kind: [(r.actor, r.resource_id) for r in uow.audit.search(10, 0, action=kind)]
            for kind in (EventKind.ALERT_CORRELATED, EventKind.WAR_ROOM_MESSAGE)
        }
    assert kinds[-2:] == [EventKind.ALERT_CORRELATED, EventKind.WAR_ROOM_MESSAGE]
    assert audited == {
        EventKind.ALERT_CORRELATED: [("triage-responder", incident.id)],
        EventKind.WAR_ROOM_MESSAGE: [("ann", incident.id)],
    }
