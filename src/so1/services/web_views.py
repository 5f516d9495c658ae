"""What the web pages show, gathered in a few reads: the dashboard (open incidents with
their clocks, recent alerts, who is on call) and one incident's page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from so1.domain.alerts import Alert
from so1.domain.incidents import OPEN_STATUSES, Incident, TimelineEvent
from so1.domain.postmortem import Postmortem
from so1.domain.records import AgentRun
from so1.domain.runbook import CheckResult, CheckState, evaluate
from so1.domain.severity import Severity
from so1.errors import NotFound
from so1.ports import AlertFilter, Clock, IncidentFilter, UnitOfWorkFactory
from so1.services.clearance import is_private, require_clearance
from so1.services.context import Actor
from so1.services.oncall import on_call_now
from so1.services.runbook import gather_facts, runbook_checks

RECENT_ALERTS = 20
LATE = (CheckState.LATE, CheckState.DONE_LATE)


@dataclass
class IncidentRow:
    incident: Incident
    minutes_open: int
    next_update_at: datetime | None
    late: list[str] = field(default_factory=list)


def _row(incident: Incident, checks: list[CheckResult], now: datetime) -> IncidentRow:
    updates = [
        c.due_at
        for c in checks
        if c.id.startswith("update")
        and c.due_at
        and c.state in (CheckState.PENDING, CheckState.LATE)
    ]
    return IncidentRow(
        incident,
        int((now - incident.detected_at).total_seconds() // 60),
        min(updates) if updates else None,
        [c.title for c in checks if c.state is CheckState.LATE],
    )


def dashboard(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor) -> dict[str, Any]:
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        found, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=200))
        visible = [i for i in found if actor.security_cleared or not is_private(uow, i.id)]
        rows = [
            _row(i, evaluate(runbook_checks(), gather_facts(uow, i), now), now) for i in visible
        ]
        alerts, _ = uow.alerts.search(AlertFilter(limit=RECENT_ALERTS))
    rows.sort(key=lambda r: (Severity(r.incident.severity).rank, r.incident.detected_at))
    return {"rows": rows, "alerts": alerts, "oncall": on_call_now(uow_factory, now), "now": now}


@dataclass
class IncidentPage:
    incident: Incident
    timeline: list[TimelineEvent]
    messages: list[Any]
    checks: list[CheckResult]
    alerts: list[Alert]
    triage: dict[str, Any] | None
    runs: list[AgentRun] = field(default_factory=list)  # platform actions, newest first
    postmortem: Postmortem | None = None


def incident_page(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str
) -> IncidentPage:
    with uow_factory(read_only=True) as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        require_clearance(uow, actor, incident_id)
        timeline = uow.timeline.for_incident(incident_id)
        checks = evaluate(runbook_checks(), gather_facts(uow, incident), clock.now())
        alerts, _ = uow.alerts.search(AlertFilter(incident_id=incident_id, limit=50))
        messages = uow.outbox.for_incident(incident_id)
        run_ids = dict.fromkeys(
            str(e.data["run_id"])
            for e in reversed(timeline)
            if e.kind.startswith("mitigation.") and e.data.get("run_id")
        )
        runs = [r for r in (uow.agent_runs.get(i) for i in run_ids) if r is not None]
        postmortem = uow.postmortems.get(incident_id)
    reports = [e for e in timeline if e.kind == "triage.report"]
    triage = dict(reports[-1].data) if reports else None
    return IncidentPage(
        incident, list(reversed(timeline)), messages, checks, alerts, triage, runs, postmortem
    )
