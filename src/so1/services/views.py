"""What the web pages show, gathered in a few reads: the dashboard (open incidents with
their clocks, recent alerts, who is on call) and one incident's page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from so1.domain.alerts import Alert
from so1.domain.changes import FeatureFlag
from so1.domain.incidents import OPEN_STATUSES, Incident, TimelineEvent
from so1.domain.metrics import Series
from so1.domain.oncall import Person, Team
from so1.domain.participants import Participation
from so1.domain.postmortem import Postmortem
from so1.domain.records import AgentRun
from so1.domain.runbook import CheckResult, CheckState, evaluate
from so1.domain.severity import Severity
from so1.domain.timeline import MITIGATION_KINDS, EventKind
from so1.errors import NotFound, So1Error
from so1.ports import AlertFilter, Clock, IncidentFilter, MetricsSource, UnitOfWorkFactory
from so1.services.access.clearance import require_read, sees_private
from so1.services.declaration.oncall import on_call_now
from so1.services.declaration.policy import DEFAULT_POLICY, EscalationChoice, escalation_for
from so1.services.incidents.recording import Actor
from so1.services.investigation.metrics import metric_series
from so1.services.runbook.checks import gather_facts, runbook_checks

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
    oncall = on_call_now(uow_factory, now)  # the same answer as GET /v1/oncall
    handles = [s.now.handle for s in oncall if s.now.handle is not None]
    with uow_factory(read_only=True) as uow:
        private = sees_private(actor)
        shown = IncidentFilter(status=OPEN_STATUSES, limit=200, include_private=private)
        found, _ = uow.incidents.search(shown)
        rows = [_row(i, evaluate(runbook_checks(), gather_facts(uow, i), now), now) for i in found]
        alerts, _ = uow.alerts.search(AlertFilter(limit=RECENT_ALERTS, include_private=private))
        names = {p.handle: p.name for p in uow.oncall.people(handles) if p.name}
    rows.sort(key=lambda r: (Severity(r.incident.severity).rank, r.incident.detected_at))
    return {"rows": rows, "alerts": alerts, "oncall": oncall, "names": names, "now": now}


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
    flags_on: list[FeatureFlag] = field(default_factory=list)  # that a mitigation could turn off
    roles: list[Participation] = field(default_factory=list)  # who holds which role now
    people: list[Person] = field(default_factory=list)  # who can be given a role or paged
    teams: list[Team] = field(default_factory=list)  # whose on-call can be paged
    escalation: EscalationChoice | None = None


def incident_page(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    default_policy: str = DEFAULT_POLICY,
) -> IncidentPage:
    with uow_factory(read_only=True) as uow:
        incident = require_read(uow, actor, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        timeline = uow.timeline.for_incident(incident_id)
        checks = evaluate(runbook_checks(), gather_facts(uow, incident), clock.now())
        alerts, _ = uow.alerts.search(AlertFilter(incident_id=incident_id, limit=50))
        messages = uow.outbox.for_incident(incident_id)
        run_ids = dict.fromkeys(
            str(e.data["run_id"])
            for e in reversed(timeline)
            if e.kind in MITIGATION_KINDS and e.data.get("run_id")
        )
        runs = [r for r in (uow.agent_runs.get(i) for i in run_ids) if r is not None]
        postmortem = uow.postmortems.get(incident_id)
        escalation = escalation_for(uow, incident, default_policy)
        flags_on = [
            f for f in uow.flags.all() if f.enabled and f.service in (None, incident.service)
        ]
        roles = uow.participants.current(incident_id)
        people, teams = uow.oncall.people(), uow.oncall.teams()
    reports = [e for e in timeline if e.kind == EventKind.TRIAGE_REPORT]
    triage = dict(reports[-1].data) if reports else None
    return IncidentPage(
        incident,
        list(reversed(timeline)),
        messages,
        checks,
        alerts,
        triage,
        runs,
        postmortem,
        flags_on,
        roles,
        people,
        teams,
        escalation,
    )


@dataclass
class Chart:
    """An SVG polyline of one metric over the incident window, with its gate as a line."""

    metric: str
    unit: str
    points: str  # "x,y x,y ..." in a 300 x 100 box
    gate_y: float | None
    gate: float | None
    latest: float | None
    top: float
    since: str = ""  # the x axis: "HH:MM" at its left end, "HH:MM" (now) at its right
    until: str = ""


CHARTED = (("error_rate", 1.0), ("latency_p99_ms", 500.0), ("db_pool_utilization", None))
WIDTH, HEIGHT = 300.0, 100.0


def charts(
    uow_factory: UnitOfWorkFactory, clock: Clock, source: MetricsSource, incident: Incident
) -> list[Chart]:
    if incident.service is None:
        return []
    start = incident.detected_at - timedelta(minutes=30)
    end = max(clock.now(), start + timedelta(minutes=1))
    try:
        found = metric_series(
            uow_factory, source, incident.service, [m for m, _ in CHARTED], start, end, 30
        )
    except So1Error:
        return []
    return [
        _chart(series, gate, start, end) for series, (_, gate) in zip(found, CHARTED, strict=True)
    ]


def _chart(series: Series, gate: float | None, start: datetime, end: datetime) -> Chart:
    values = [v for _, v in series.points]
    if series.points:  # draw over the data there is, not mostly empty space
        start = min(series.points[0][0], end - timedelta(minutes=1))
    top = max([*values, (gate or 0) * 1.5, 1.0])
    span = (end - start).total_seconds() or 1.0

    def y(value: float) -> float:
        return round(HEIGHT - value / top * HEIGHT, 1)

    points = " ".join(
        f"{round((at - start).total_seconds() / span * WIDTH, 1)},{y(v)}" for at, v in series.points
    )
    return Chart(
        series.metric,
        series.unit,
        points,
        y(gate) if gate is not None else None,
        gate,
        series.last(),
        round(top, 1),
        start.strftime("%H:%M"),
        end.strftime("%H:%M"),
    )
