"""Keeps the runbook's clocks for every open incident: a check that goes late (and has
`escalate: true`) is announced in the war room and pages the engineering lead, once per
deadline however many workers run or restart (runbook_alarms' primary key decides)."""

from __future__ import annotations

from datetime import datetime

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident, IncidentStatus, TimelineEvent
from so1.domain.runbook import CheckResult, CheckState, evaluate
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.commander_flow import page_payload
from so1.services.runbook import gather_facts, runbook_checks

OPEN = [s.value for s in IncidentStatus if s.is_open]
WATCH_LIMIT = 500  # open incidents looked at per pass


def check_clocks(uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """One pass over the open incidents; returns how many alarms fired."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        incidents, _ = uow.incidents.search(IncidentFilter(status=OPEN, limit=WATCH_LIMIT))
        late = {
            incident.id: [
                c
                for c in evaluate(runbook_checks(), gather_facts(uow, incident), now)
                if c.state is CheckState.LATE and c.escalate
            ]
            for incident in incidents
        }
    fired = 0
    for incident in incidents:
        for check in late[incident.id]:
            fired += _fire(uow_factory, now, incident, check)
    return fired


def _fire(
    uow_factory: UnitOfWorkFactory, now: datetime, incident: Incident, check: CheckResult
) -> bool:
    with uow_factory() as uow:
        if not uow.outbox.claim_alarm(incident.id, check.id, check.occurrence, now):
            return False
        due = check.due_at.strftime("%H:%M:%S UTC") if check.due_at else "?"
        text = f"⏰ Runbook check late: {check.title} (due {due}). {check.evidence}"
        uow.timeline.add(
            TimelineEvent(
                incident.id,
                now,
                "runbook.late",
                "so1",
                text,
                {"check": check.id, "due_at": check.due_at.isoformat() if check.due_at else None},
            )
        )
        uow.outbox.add(
            Outbound(incident.id, Destination.WAR_ROOM, "internal", "runbook_late", text, now)
        )
        lead, team = _lead(uow, incident)
        if lead is not None:
            uow.outbox.add(
                Outbound(
                    incident.id,
                    Destination.PAGER,
                    "person",
                    "page",
                    f"runbook check late: {check.title}",
                    now,
                    target=lead,
                    payload=page_payload(incident.id, lead, team, f"{check.id}-{check.occurrence}")
                    | {"check": check.id},
                )
            )
        uow.commit()
    return True


def _lead(uow: UnitOfWork, incident: Incident) -> tuple[str | None, str | None]:
    """The engineering lead of the team owning the incident's service (else its commander),
    and that team."""
    service = uow.catalog.get(incident.service) if incident.service else None
    owner = service.owner_team if service else None
    team = uow.oncall.team(owner) if owner else None
    return (team.lead if team else None) or incident.commander, owner
