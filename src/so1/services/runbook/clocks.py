"""Keeps the runbook's clocks for every open incident: a check that goes late (and has
`escalate: true`) is announced in the war room and pages the engineering lead, once per
deadline however many workers run or restart (runbook_alarms' primary key decides)."""

from __future__ import annotations

from datetime import datetime, timedelta

from so1.agents.commander.comms import render_update_reminder
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import OPEN_STATUSES, Incident
from so1.domain.oncall import Seniority
from so1.domain.runbook import CheckResult, CheckState, evaluate
from so1.domain.timeline import EventKind
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.declaration.flow import queue_page
from so1.services.declaration.outbox import queue_message
from so1.services.incidents.recording import Actor, note
from so1.services.isolation import each, guarded
from so1.services.runbook.checks import gather_facts, runbook_checks

UPDATES_CHECK = "updates"
UPDATE_EVERY = timedelta(minutes=15)
REMIND_BEFORE = timedelta(minutes=3)  # the commander gets the draft this long before it is due
DRAFT_LINES = 6
# What an update reports: what changed on the record since the last one.
DRAFT_KINDS = (
    EventKind.STATUS_CHANGED,
    EventKind.SEVERITY_CHANGED,
    EventKind.ROLE_ASSUMED,
    EventKind.ALERT_CORRELATED,
    EventKind.INCIDENT_UPDATED,
    EventKind.WAR_ROOM_MESSAGE,
    EventKind.INCIDENT_STORM,
    EventKind.RUNBOOK_LATE,
)
WATCH_LIMIT = 500  # open incidents looked at per pass
CLOCKS = Actor(name="so1")


def check_clocks(uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """One pass over the open incidents; returns how many alarms fired. An incident whose
    record cannot be evaluated is logged and skipped; the others still get their alarms."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        incidents, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=WATCH_LIMIT))
        checks = {i.id: _evaluated(uow, i, now) for i in incidents}
    return each(
        "runbook clocks",
        incidents,
        lambda i: i.id,
        lambda i: _alarms(uow_factory, now, i, checks[i.id]),
    )


def _evaluated(uow: UnitOfWork, incident: Incident, now: datetime) -> list[CheckResult]:
    """The incident's checks; none (logged) when its record cannot be evaluated."""
    return guarded(
        "runbook clocks",
        incident.id,
        lambda: evaluate(runbook_checks(), gather_facts(uow, incident), now),
        [],
    )


def _alarms(
    uow_factory: UnitOfWorkFactory, now: datetime, incident: Incident, checks: list[CheckResult]
) -> int:
    fired = 0
    for check in checks:
        if check.state is CheckState.LATE and check.escalate:
            fired += _fire(uow_factory, now, incident, check)
        elif _update_due_soon(check, now) and incident.commander:
            fired += _remind(uow_factory, now, incident, check)
    return fired


def _update_due_soon(check: CheckResult, now: datetime) -> bool:
    return (
        check.id == UPDATES_CHECK
        and check.state is CheckState.PENDING
        and check.due_at is not None
        and check.due_at - now <= REMIND_BEFORE
    )


def _remind(
    uow_factory: UnitOfWorkFactory, now: datetime, incident: Incident, check: CheckResult
) -> bool:
    """Once per deadline: remind the commander, with an update drafted from the timeline."""
    assert check.due_at is not None
    with uow_factory() as uow:
        if not uow.outbox.claim_alarm(incident.id, "update_reminder", check.occurrence, now):
            return False
        since = check.due_at - UPDATE_EVERY
        events = [
            e for e in uow.timeline.for_incident(incident.id, DRAFT_KINDS) if e.occurred_at >= since
        ]
        lines = [f"{e.occurred_at:%H:%M} {e.summary}" for e in events[-DRAFT_LINES:]]
        text = render_update_reminder(incident, check.due_at, lines)
        queue_message(
            uow,
            Outbound(
                incident.id,
                Destination.WAR_ROOM,
                "internal",
                "update_reminder",
                text,
                now,
                target=incident.commander,
            ),
        )
        uow.commit()
    return True


def _fire(
    uow_factory: UnitOfWorkFactory, now: datetime, incident: Incident, check: CheckResult
) -> bool:
    with uow_factory() as uow:
        if not uow.outbox.claim_alarm(incident.id, check.id, check.occurrence, now):
            return False
        due = check.due_at.strftime("%H:%M:%S UTC") if check.due_at else "?"
        text = f"⏰ Runbook check late: {check.title} (due {due}). {check.evidence}"
        data = {"check": check.id, "due_at": check.due_at.isoformat() if check.due_at else None}
        note(uow, CLOCKS, now, incident.id, EventKind.RUNBOOK_LATE, text, data)
        queue_message(
            uow, Outbound(incident.id, Destination.WAR_ROOM, "internal", "runbook_late", text, now)
        )
        lead, team = _lead(uow, incident)
        if lead is not None:
            reason = f"runbook check late: {check.title}"
            topic = f"{check.id}-{check.occurrence}"
            queue_page(uow, now, incident.id, lead, reason, team, topic, {"check": check.id})
        uow.commit()
    return True


def _lead(uow: UnitOfWork, incident: Incident) -> tuple[str | None, str | None]:
    """The engineering lead of the team owning the incident's service, and that team. A
    service without a team (or a team without a lead) gets an engineering lead from the
    people directory, as the default escalation policy does; else the commander."""
    service = uow.catalog.get(incident.service) if incident.service else None
    owner = service.owner_team if service else None
    team = uow.oncall.team(owner) if owner else None
    lead = team.lead if team else None
    if lead is None:
        leads = (p.handle for p in uow.oncall.people() if p.seniority is Seniority.LEAD)
        lead = next(leads, None)
    return lead or incident.commander, owner
