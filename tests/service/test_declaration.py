"""Phase 2, declaration: the incident-commander's plan applied to a stored incident (war room,
roles, status, outbox), a second declaration that sends nothing, refusals, and the outbox
delivered to the war room and the pager."""

from __future__ import annotations

from dataclasses import replace

import pytest

from so1.agents.commander.agent import IncidentCommander
from so1.agents.commander.contract import (
    CommanderInputs,
    CommanderPlan,
    CommanderRequest,
    Impact,
    TriageFindings,
)
from so1.domain.comms import DeliveryStatus, Destination
from so1.domain.events import MessageQueued
from so1.domain.incidents import IncidentStatus
from so1.domain.participants import Role
from so1.domain.records import RunStatus
from so1.domain.timeline import EventKind
from so1.errors import Forbidden, NotFound, Unavailable
from so1.ports import Messenger
from so1.services.declaration.flow import commander_request
from so1.services.declaration.outbox import deliver_due
from so1.services.incidents.recording import Actor
from tests.fakes import FakeChat, FakeClock, FakeDatabase, FakePager, FakeStatusPage
from tests.service.conftest import ALICE, open_incident

FINDINGS = TriageFindings(
    hypotheses=("Connection pool undersized",),
    symptoms=("High error rate", "Connection pool exhaustion"),
    impact=Impact(users_affected=150, services=("control-plane-api",)),
)
EXPECTED_WAR_ROOM_TEXT = """🔴 **SEV2 Incident Declared: API Error Rate Spike**
**Status**: Investigating
**Impact**: 150 users, workflow executions failing
**Commander**: @oncall-backend
**War Room**: #incident-seed
Investigating database connection pool exhaustion. Updates every 15 min."""


def request_for(incident_id: str) -> CommanderRequest:
    return CommanderRequest(
        incident_id, triage_report=FINDINGS, commander="@oncall-backend", channel="#incident-seed"
    )


def test_the_plan_opens_the_war_room_and_queues_messages(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = open_incident(db, clock)
    run = commander_request(db.uow, clock, ALICE, IncidentCommander(), request_for(incident.id))

    assert run.status is RunStatus.COMPLETED
    with db.uow(read_only=True) as uow:
        stored = uow.incidents.get(incident.id)
        said = uow.outbox.for_incident(incident.id)
        opened = uow.timeline.for_incident(incident.id, [EventKind.WAR_ROOM_OPENED])
        commanders = uow.participants.current(incident.id, Role.COMMANDER)
        audited = [r.action for r in uow.audit.search(50, 0)]
        kept_run = uow.agent_runs.get(run.id)
    assert stored is not None
    assert (stored.status, stored.channel, stored.commander) == (
        IncidentStatus.INVESTIGATING,
        "#incident-seed",
        "oncall-backend",
    )
    assert stored.declared_at == clock.now() and stored.version == incident.version + 1
    assert [(m.destination, m.kind, m.status) for m in said] == [
        (Destination.WAR_ROOM, "declared", DeliveryStatus.PENDING),
        (Destination.PAGER, "page", DeliveryStatus.PENDING),
    ]
    assert said[0].body == EXPECTED_WAR_ROOM_TEXT  # SEV2: nothing for the status page
    assert said[1].target == "oncall-backend"
    assert said[1].payload["dedup_key"] == f"so1-{incident.id}-oncall-backend"
    assert [e.summary for e in opened] == [
        "war room #incident-seed opened; commander @oncall-backend"
    ]
    assert [p.handle for p in commanders] == ["oncall-backend"]
    assert "incident.declare" in audited
    assert kept_run is not None and kept_run.output == run.output
    queued = [e for e in db.dispatched if isinstance(e, MessageQueued)]
    assert {e.destination for e in queued} == {Destination.WAR_ROOM, Destination.PAGER}


def test_with_no_one_on_call_the_war_room_line_says_so(db: FakeDatabase, clock: FakeClock) -> None:
    """No rotation, no commander asked for: the timeline says there is none, not "@None"."""
    incident = open_incident(db, clock)
    asked = CommanderRequest(incident.id, triage_report=FINDINGS, channel="#incident-seed")
    run = commander_request(db.uow, clock, ALICE, IncidentCommander(), asked)
    assert run.status is RunStatus.COMPLETED and run.output is not None
    assert run.output["commander"] is None
    with db.uow(read_only=True) as uow:
        opened = uow.timeline.for_incident(incident.id, [EventKind.WAR_ROOM_OPENED])
    assert [e.summary for e in opened] == [
        "war room #incident-seed opened; no commander: no one on call"
    ]


def test_declaring_twice_sends_nothing_again(db: FakeDatabase, clock: FakeClock) -> None:
    incident = open_incident(db, clock)
    agent = IncidentCommander()
    commander_request(db.uow, clock, ALICE, agent, request_for(incident.id))
    before = db.committed().outbox

    again = commander_request(db.uow, clock, ALICE, agent, request_for(incident.id))

    assert again.status is RunStatus.COMPLETED
    assert again.output is not None and again.output["already_declared"] is True
    assert [s["kind"] for s in again.output["sent"]] == ["declared", "page"]
    assert db.committed().outbox == before
    with db.uow(read_only=True) as uow:
        updates = uow.timeline.for_incident(incident.id, [EventKind.INCIDENT_UPDATED])
    assert [e.data for e in updates] == [{"repeat": True}]


def test_a_missing_incident_is_not_found_and_nothing_is_kept(
    db: FakeDatabase, clock: FakeClock
) -> None:
    with pytest.raises(NotFound, match="declare it first"):
        commander_request(db.uow, clock, ALICE, IncidentCommander(), request_for("INC-none"))
    assert db.commits == 0 and db.committed().agent_runs == {}


class _Failing:
    name = "incident-commander"

    def run(self, inputs: CommanderInputs, /) -> CommanderPlan:
        raise RuntimeError("model unavailable")


def test_a_failing_agent_is_a_failed_run_and_leaves_the_incident(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = open_incident(db, clock)
    run = commander_request(db.uow, clock, ALICE, _Failing(), request_for(incident.id))

    assert run.status is RunStatus.FAILED
    assert run.error == "RuntimeError: model unavailable"
    tables = db.committed()
    assert tables.incidents[incident.id] == incident
    assert tables.outbox == [] and tables.agent_runs[run.id].status is RunStatus.FAILED


def test_a_security_incident_is_refused_to_a_key_without_clearance(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = open_incident(db, clock)
    with db.uow() as uow:
        uow.incidents.update(replace(incident, private=True), incident.version)
        uow.commit()
    uncleared = Actor("viewer", key_id="k_v", security_cleared=False)
    with pytest.raises(Forbidden, match="security"):
        commander_request(db.uow, clock, uncleared, IncidentCommander(), request_for(incident.id))
    assert db.committed().outbox == []


def test_the_outbox_is_delivered_and_a_pager_outage_is_retried(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = open_incident(db, clock)
    commander_request(db.uow, clock, ALICE, IncidentCommander(), request_for(incident.id))
    chat, pager = FakeChat(), FakePager()
    pager.fail_next(Unavailable("PagerDuty: HTTP 503"))
    messengers: dict[Destination, Messenger] = {
        Destination.WAR_ROOM: chat,
        Destination.PAGER: pager,
        Destination.STATUS_PAGE: FakeStatusPage(),
    }

    assert deliver_due(db.uow, clock, messengers) == 2
    outbox = {m.destination: m for m in db.committed().outbox}
    assert outbox[Destination.WAR_ROOM].status is DeliveryStatus.SENT
    assert outbox[Destination.WAR_ROOM].payload["ref"].startswith("slack:C-")
    page = outbox[Destination.PAGER]
    assert (page.status, page.last_error) == (
        DeliveryStatus.PENDING,
        "Unavailable: PagerDuty: HTTP 503",
    )
    assert chat.kinds() == ["declared"] and pager.delivered == []

    assert deliver_due(db.uow, clock, messengers) == 0  # not due again yet
    assert page.next_attempt_at is not None
    clock.advance(page.next_attempt_at - clock.now())
    assert deliver_due(db.uow, clock, messengers) == 1
    assert pager.open_pages == {f"so1-{incident.id}-oncall-backend"}
    with db.uow(read_only=True) as uow:
        sent = uow.timeline.for_incident(incident.id, [EventKind.COMMUNICATION_SENT])
    assert len(sent) == 2
