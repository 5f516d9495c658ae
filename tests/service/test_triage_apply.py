"""Phase 1, triage: a pending alert decided by the real triage-responder and its report
applied (an incident declared with the alert attached, a joined incident, a ticket, a
closed alert), and Phase 2 following at once when the commander is given."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from so1.agents.commander.agent import IncidentCommander
from so1.agents.triage import TriageResponder
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, AlertStatus, SeverityHint
from so1.domain.catalog import CatalogService, Tier
from so1.domain.changes import Deployment
from so1.domain.comms import Destination
from so1.domain.incidents import IncidentStatus
from so1.domain.records import AgentName, RunStatus
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.services.triage.flow import process_alert
from tests.fakes import FakeClock, FakeDatabase

API = "so1-control-plane-api"


def seed_world(db: FakeDatabase, clock: FakeClock) -> None:
    """The runbook's worked example: a critical API on postgres, deployed 4 hours ago."""
    with db.uow() as uow:
        uow.catalog.upsert(CatalogService("postgres", Tier.CRITICAL, "platform-team"))
        uow.catalog.upsert(
            CatalogService(
                API, Tier.CRITICAL, "platform-team", 150, ["postgres"], {"error_rate": "0.5%"}
            )
        )
        for version, hours in (("v2.13.2", 30), ("v2.14.0", 4)):
            at = clock.now() - timedelta(hours=hours)
            uow.deployments.add(Deployment(API, version, at, "dana"))
        uow.commit()


def fire(db: FakeDatabase, clock: FakeClock, event: AlertEvent, alert_id: str) -> str:
    with db.uow() as uow:
        uow.alerts.trigger(event, alert_id, clock.now())
        uow.commit()
    return alert_id


POOL = AlertEvent(
    AlertSource.DATADOG,
    AlertAction.TRIGGER,
    "pool-1",
    "Connection pool at 100% (Connection timeout after 5000ms)",
    service=API,
    metric="db_pool_utilization",
    current_value="100%",
    threshold="< 90%",
)
ERRORS = AlertEvent(
    AlertSource.PAGERDUTY,
    AlertAction.TRIGGER,
    "pd-alert-123",
    "High error rate",
    service=API,
    metric="error_rate",
    current_value="12%",
    threshold="< 1%",
)


def test_an_incident_is_declared_with_its_alerts_and_its_report(
    db: FakeDatabase, clock: FakeClock
) -> None:
    seed_world(db, clock)
    fire(db, clock, POOL, "al_pool")
    alert_id = fire(db, clock, ERRORS, "al_errors")

    report = process_alert(db.uow, clock, TriageResponder(), alert_id)

    assert report is not None and report.severity is Severity.SEV2
    tables = db.committed()
    [incident] = tables.incidents.values()
    assert (incident.severity, incident.status, incident.service) == (
        Severity.SEV2,
        IncidentStatus.TRIGGERED,
        API,
    )
    assert report.incident_id == incident.id
    attached = {r.alert.id for r in tables.alerts.values() if r.alert.incident_id == incident.id}
    assert attached == {"al_pool", "al_errors"}  # the related alert in the window joins
    assert tables.alerts[alert_id].triage_state == "incident"
    kinds = [e.kind for e in tables.timeline if e.incident_id == incident.id]
    assert EventKind.TRIAGE_REPORT in kinds
    [run] = [r for r in tables.agent_runs.values() if r.agent == AgentName.TRIAGE]
    assert (run.status, run.incident_id) == (RunStatus.COMPLETED, incident.id)
    assert tables.alerts[alert_id].triage_run_id == run.id
    assert tables.outbox == []  # no commander given: Phase 2 waits


def test_the_commander_follows_at_once_when_given(db: FakeDatabase, clock: FakeClock) -> None:
    seed_world(db, clock)
    alert_id = fire(db, clock, ERRORS, "al_errors")

    process_alert(db.uow, clock, TriageResponder(), alert_id, IncidentCommander())

    tables = db.committed()
    [incident] = tables.incidents.values()
    assert incident.status is IncidentStatus.INVESTIGATING and incident.channel
    assert Destination.WAR_ROOM in {m.destination for m in tables.outbox}
    assert {r.agent for r in tables.agent_runs.values()} == {
        AgentName.TRIAGE,
        AgentName.COMMANDER,
    }


def test_a_second_alert_joins_the_open_incident(db: FakeDatabase, clock: FakeClock) -> None:
    seed_world(db, clock)
    first = fire(db, clock, ERRORS, "al_errors")
    process_alert(db.uow, clock, TriageResponder(), first)
    clock.advance(timedelta(minutes=3))
    again = replace(ERRORS, source=AlertSource.EVENTS, dedup_key="errors-elsewhere")
    second = fire(db, clock, again, "al_errors_2")

    process_alert(db.uow, clock, TriageResponder(), second)

    tables = db.committed()
    [incident] = tables.incidents.values()
    assert tables.alerts[second].alert.incident_id == incident.id
    assert tables.alerts[second].triage_state == "correlated"


def test_a_cosmetic_issue_is_a_ticket_and_nothing_is_declared(
    db: FakeDatabase, clock: FakeClock
) -> None:
    event = AlertEvent(
        AlertSource.EVENTS,
        AlertAction.TRIGGER,
        "css-1",
        "Button misaligned on Safari",
        service="web-dashboard",
        severity_hint=SeverityHint.INFO,
    )
    alert_id = fire(db, clock, event, "al_css")

    process_alert(db.uow, clock, TriageResponder(), alert_id)

    tables = db.committed()
    assert tables.incidents == {}
    assert [(i.alert_id, i.priority) for i in tables.action_items] == [(alert_id, "low")]
    assert tables.alerts[alert_id].triage_state == "ticket"


def test_nothing_to_act_on_closes_the_alert(db: FakeDatabase, clock: FakeClock) -> None:
    event = AlertEvent(
        AlertSource.EVENTS,
        AlertAction.TRIGGER,
        "err-low",
        "Error rate",
        service="web-dashboard",
        metric="error_rate",
        current_value="0.4%",
        threshold="< 1%",
    )
    alert_id = fire(db, clock, event, "al_low")

    process_alert(db.uow, clock, TriageResponder(), alert_id)

    row = db.committed().alerts[alert_id]
    assert (row.alert.status, row.triage_state) == (AlertStatus.RESOLVED, "closed")
    assert row.alert.closed_reason
    assert db.committed().incidents == {}


def test_an_alert_already_decided_is_left_alone(db: FakeDatabase, clock: FakeClock) -> None:
    alert_id = fire(db, clock, ERRORS, "al_errors")
    with db.uow() as uow:
        uow.alerts.finish_triage(alert_id, "closed")
        uow.commit()
    assert process_alert(db.uow, clock, TriageResponder(), alert_id) is None
    assert db.committed().agent_runs == {}
