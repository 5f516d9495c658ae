"""The postmortem-analyst's runs: gather the incident record, let the agent draft, render the
markdown (knowledge/postmortem.md.j2) and keep both. Started through POST /v1/orchestrate
and, for every resolved incident without one, by the clocks job."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

import jinja2

from so1 import knowledge
from so1.agents.postmortem.contract import IncidentRecord, PostmortemInputs, PostmortemRequest
from so1.agents.registry import AnalystAgent
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.postmortem import Postmortem, PostmortemStatus
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.domain.runbook import evaluate
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound
from so1.ports import AlertFilter, Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.outbox import queue_message
from so1.services.incidents.recording import SYSTEM, Actor, Change, record
from so1.services.isolation import each
from so1.services.postmortem.meeting import DEFAULT_HOURS, meeting_start
from so1.services.runbook.checks import gather_facts, runbook_checks

DEPLOYMENTS_BEFORE = timedelta(days=7)
AUTO_PER_PASS = 5
RETRY_FAILED_AFTER = timedelta(hours=1)  # a draft that failed is tried again after this


def postmortem_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    agent: AnalystAgent,
    request: PostmortemRequest,
    meeting_hours: tuple[int, int] = DEFAULT_HOURS,
) -> AgentRun:
    """Draft (or redraft) the postmortem; its author is whoever asked (``actor``)."""
    incident_id, now = request.incident_id, clock.now()
    with uow_factory(read_only=True) as uow:
        incident = require_act(uow, actor, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        existing = uow.postmortems.get(incident_id)
        inputs = PostmortemInputs(request, incident_record(uow, incident, now))
    if existing is not None and existing.status is PostmortemStatus.PUBLISHED:
        raise Conflict(f"the postmortem of {incident_id} is published; it is not redrafted")
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.POSTMORTEM,
        RunStatus.RUNNING,
        request.to_json(),
        now,
        actor.name,
        incident_id=incident_id,
    )
    drafted = agent.run(inputs)
    draft = drafted.to_json()
    markdown = render(draft)
    kept = Postmortem(
        incident_id,
        PostmortemStatus.DRAFT,
        drafted.analysis_method.value,
        draft,
        markdown,
        existing.created_at if existing else now,
        now,
        (existing.version + 1) if existing else 1,
        meta=(existing.meta if existing else {}) | {"author": actor.holder},
    )
    done = replace(
        run,
        status=RunStatus.COMPLETED,
        finished_at=now,
        output={"draft": draft, "markdown": markdown},
    )
    with uow_factory() as uow:
        uow.agent_runs.add(done)
        uow.postmortems.put(kept)
        if existing is None:
            _invite_in_war_room(uow, incident, now, meeting_hours)
        summary = f"postmortem draft v{kept.version} ({kept.method})"
        record(
            uow,
            actor,
            now,
            Change(
                "postmortem.draft",
                "postmortem",
                incident_id,
                summary,
                {"run_id": run.id, "missing": list(drafted.missing)},
                incident_id,
                EventKind.POSTMORTEM_DRAFTED,
            ),
        )
        uow.commit()
    return done


def _invite_in_war_room(
    uow: UnitOfWork, incident: Incident, now: datetime, hours: tuple[int, int]
) -> None:
    """With the first draft, the room hears when the review meeting is (a chat adapter
    delivers it like every message)."""
    start = meeting_start(uow, incident, now, hours) if incident.channel else None
    if start is None:
        return
    text = (
        f"📅 Postmortem review of {incident.id}: {_when(start)}, 60 min. "
        f"Draft: GET /v1/incidents/{incident.id}/postmortem?format=markdown; invitation: "
        f"GET /v1/incidents/{incident.id}/postmortem/meeting.ics"
    )
    queue_message(
        uow,
        Outbound(
            incident.id,
            Destination.WAR_ROOM,
            "internal",
            "postmortem_meeting",
            text,
            now,
            payload={"channel": incident.channel},
        ),
    )


def _when(start: datetime) -> str:
    """The meeting's day and time in the team's zone, and in UTC when that differs."""
    local = f"{start:%A %Y-%m-%d %H:%M} {start.tzname()}"
    return local if start.tzname() == "UTC" else f"{local} ({start.astimezone(UTC):%H:%M} UTC)"


def incident_record(uow: UnitOfWork, incident: Incident, now: datetime) -> IncidentRecord:
    """Everything the analyst may use."""
    alerts, _ = uow.alerts.search(AlertFilter(incident_id=incident.id, limit=1000))
    deployments = (
        uow.deployments.recent(incident.detected_at - DEPLOYMENTS_BEFORE, incident.service)
        if incident.service
        else []
    )
    return IncidentRecord(
        incident=incident,
        severity_history=tuple(uow.incidents.severity_changes(incident.id)),
        timeline=tuple(uow.timeline.for_incident(incident.id)),
        alerts=tuple(sorted(alerts, key=lambda a: a.first_seen_at)),
        deployments=tuple(deployments),
        messages=tuple(uow.outbox.for_incident(incident.id)),
        checks=tuple(evaluate(runbook_checks(), gather_facts(uow, incident), now)),
        owner_lead=_owner_lead(uow, incident),
        responders=tuple(sorted({p.handle for p in uow.participants.history(incident.id)})),
        now=now,
    )


def _owner_lead(uow: UnitOfWork, incident: Incident) -> str | None:
    service = uow.catalog.get(incident.service) if incident.service else None
    if service is None or not service.owner_team:
        return None
    team = next((t for t in uow.oncall.teams() if t.name == service.owner_team), None)
    return team.lead if team else None


@cache
def _template() -> jinja2.Template:
    # Markdown, not HTML: the web pages escape it when they show it.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    env.filters["hm"] = _hm
    env.filters["minutes"] = lambda v: "not recorded" if v is None else f"{v:g} min"
    return env.from_string(knowledge.postmortem_template())


def _hm(value: object) -> str:
    if value is None:
        return "not recorded"
    return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")


def render(draft: Mapping[str, object]) -> str:
    return _template().render(d=draft)


def get_postmortem(uow_factory: UnitOfWorkFactory, incident_id: str) -> Postmortem:
    with uow_factory(read_only=True) as uow:
        found = uow.postmortems.get(incident_id)
    if found is None:
        raise NotFound(
            f"incident {incident_id} has no postmortem yet (POST /v1/orchestrate "
            "with the postmortem-analyst, or resolve it)"
        )
    return found


def draft_missing(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: AnalystAgent,
    meeting_hours: tuple[int, int] = DEFAULT_HOURS,
) -> int:
    """Draft the postmortem of resolved incidents that have none (a few per pass). One whose
    drafting fails is logged, kept as a failed run and left alone for RETRY_FAILED_AFTER, so
    it never holds up the others."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        pending = uow.postmortems.without_postmortem(AUTO_PER_PASS, now - RETRY_FAILED_AFTER)
    return each(
        "postmortem drafting",
        pending,
        lambda incident_id: incident_id,
        lambda incident_id: _draft_or_keep_failure(
            uow_factory, clock, agent, incident_id, meeting_hours
        ),
    )


def _draft_or_keep_failure(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: AnalystAgent,
    incident_id: str,
    meeting_hours: tuple[int, int],
) -> int:
    try:
        request = PostmortemRequest(incident_id)
        postmortem_request(uow_factory, clock, SYSTEM, agent, request, meeting_hours)
    except Exception as exc:
        _keep_failure(uow_factory, clock, incident_id, exc)
        raise
    return 1


def _keep_failure(
    uow_factory: UnitOfWorkFactory, clock: Clock, incident_id: str, error: Exception
) -> None:
    now = clock.now()
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.POSTMORTEM,
        RunStatus.FAILED,
        {"incident_id": incident_id},
        now,
        SYSTEM.name,
        error=f"{type(error).__name__}: {error}"[:2000],
        finished_at=now,
        incident_id=incident_id,
    )
    with uow_factory() as uow:
        uow.agent_runs.add(run)
        uow.commit()
