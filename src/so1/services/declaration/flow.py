"""Declaration (runbook Phase 2): gather what the incident-commander agent needs, run it, and
apply its plan in one transaction: war room, roles, the incident moved to investigating,
and every message and page written to the outbox for delivery."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from so1.agents.commander.comms import commander_named
from so1.agents.commander.contract import (
    CommanderInputs,
    CommanderPlan,
    CommanderRequest,
    Impact,
    TeamInfo,
    TriageFindings,
)
from so1.agents.registry import CommanderAgent
from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.domain.incidents import Incident, IncidentStatus, transition
from so1.domain.oncall import Window
from so1.domain.participants import Role
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.outbox import queue_message
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor, Change, note, record
from so1.services.incidents.severity import record_severity_change

COMMANDER_ACTOR = Actor(name=AgentName.COMMANDER)
DECLARED_KIND = "declared"  # the kind of the declaration's first war-room message
DECLARED_AS = "declared at this severity by the incident-commander"


def commander_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    agent: CommanderAgent,
    request: CommanderRequest,
) -> AgentRun:
    """`POST /v1/orchestrate` with the incident-commander: plan and apply for a stored incident."""
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, request.incident_id)
        incident = uow.incidents.get(request.incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"incident {request.incident_id} does not exist; declare it first")
        run = run_and_apply(uow, now, actor, agent, incident, request)
        uow.commit()
    return run


def earlier_declaration(uow: UnitOfWork, incident_id: str) -> Outbound | None:
    """The declaration's war-room message, if the incident was declared. The outbox is the
    record of what was sent: a message in it is delivered once, even after a crash."""
    said = uow.outbox.for_incident(incident_id, Destination.WAR_ROOM)
    return next((m for m in said if m.kind == DECLARED_KIND), None)


def already_declared(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    incident: Incident,
    declared: Outbound,
    commander_change: str | None = None,
) -> AgentRun:
    """A second declaration: a completed run that sends nothing and says what was done
    before, when and by whom (and what became of a commander it asked for); the request is
    kept on the timeline."""
    opened = uow.timeline.for_incident(incident.id, [EventKind.WAR_ROOM_OPENED])
    by = opened[0].actor if opened else None
    sent = [
        {"to": m.destination.value, "kind": m.kind, "target": m.target, "status": m.status.value}
        for m in uow.outbox.for_incident(incident.id)
    ]
    output: dict[str, Any] = {
        "already_declared": True,
        "declared_at": declared.created_at.astimezone(UTC).isoformat(),
        "declared_by": by,
        "severity": incident.severity.value,
        "channel": incident.channel,
        "commander": incident.commander,
        "sent": sent,
        "next": "nothing was sent again; change the severity (with a reason), add a responder"
        " or post to the war room instead",
    }
    summary = f"declared again by {actor.name}: already declared; nothing sent"
    if commander_change:
        output["commander_request"] = commander_change
        summary += f"; {commander_change}"
    note(uow, actor, now, incident.id, EventKind.INCIDENT_UPDATED, summary, {"repeat": True})
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.COMMANDER,
        RunStatus.COMPLETED,
        {"incident_id": incident.id},
        now,
        actor.name,
        output=output,
        finished_at=now,
        incident_id=incident.id,
    )
    uow.agent_runs.add(run)
    return run


def declare_after_triage(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    agent: CommanderAgent,
    incident: Incident,
    report: Mapping[str, Any],
) -> AgentRun:
    """Phase 2 at once after triage opened the incident, from the triage report (JSON)."""
    findings = TriageFindings.from_report(report)
    return run_and_apply(
        uow, now, actor, agent, incident, CommanderRequest(incident.id, triage_report=findings)
    )


def run_and_apply(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    agent: CommanderAgent,
    incident: Incident,
    request: CommanderRequest,
) -> AgentRun:
    """Run the agent on the incident (what ``request`` sets overrides) and apply its plan;
    an incident declared before is not declared again (nothing is sent twice)."""
    declared = earlier_declaration(uow, incident.id)
    if declared is not None:
        change = take_requested_commander(uow, now, actor, agent, incident, request)
        current = uow.incidents.get(incident.id) or incident
        return already_declared(uow, now, actor, current, declared, change)
    inputs = commander_inputs(uow, now, incident, request)
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.COMMANDER,
        RunStatus.RUNNING,
        inputs.to_json(),
        now,
        actor.name,
        incident_id=incident.id,
    )
    try:
        plan = agent.run(inputs)
    except Exception as exc:  # a failing agent is a failed run; the incident is untouched
        failed = replace(run, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        uow.agent_runs.add(replace(failed, finished_at=now))
        return failed
    apply_plan(uow, now, actor, incident, plan)
    done = replace(run, status=RunStatus.COMPLETED, output=plan.to_json(), finished_at=now)
    uow.agent_runs.add(done)
    return done


def take_requested_commander(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    agent: CommanderAgent,
    incident: Incident,
    request: CommanderRequest,
) -> str | None:
    """A repeated declaration naming a commander, for an incident that has none (triage
    declared it when no one was on call): the named person takes command if the agent's
    rules accept them (senior enough for the severity, not on time off). What happened, or
    why not; None when no commander was asked for or they already command."""
    asked = (request.commander or "").lstrip("@") or None
    if asked is None or asked == incident.commander:
        return None
    if incident.commander:
        return (
            f"@{incident.commander} already commands; to hand over, POST "
            f"/v1/incidents/{incident.id}/participants with role commander"
        )
    inputs = commander_inputs(uow, now, incident, CommanderRequest(incident.id, commander=asked))
    try:
        plan = agent.run(inputs)
    except Exception as exc:  # the request is answered; the incident is untouched
        return f"@{asked} not made commander: the check failed ({type(exc).__name__})"
    if plan.commander != asked:
        why = [d for d in plan.decisions if f"@{asked}" in d]
        return f"@{asked} not made commander: {'; '.join(why) or 'not available'}"
    hand_role(uow, actor, now, incident.id, asked, Role.COMMANDER)
    current = uow.incidents.get(incident.id, for_update=True) or incident
    taken = replace(current, commander=asked, updated_at=now, version=current.version + 1)
    uow.incidents.update(taken, expected_version=current.version)
    return f"@{asked} is commander, as requested"


def commander_inputs(
    uow: UnitOfWork, now: datetime, incident: Incident, request: CommanderRequest
) -> CommanderInputs:
    """The incident record around the request: the triage report (the caller's, else the
    last one on the timeline), the catalog, teams and who is on call, people, who is away."""
    findings = request.triage_report or _last_triage_report(uow, incident.id)
    away = uow.oncall.time_off(now)
    return CommanderInputs(
        incident_id=incident.id,
        severity=request.severity or incident.severity,
        title=request.title or incident.title,
        status=request.status or "Investigating",
        service=incident.service,
        detected_at=incident.detected_at.astimezone(UTC),
        now=now.astimezone(UTC),
        findings=replace(
            findings, impact=findings.impact.or_else(Impact.from_json(incident.impact))
        ),
        requested_commander=(request.commander or "").lstrip("@") or None,
        channel=request.channel,
        services={s.name: s for s in uow.catalog.all()},
        alert_counts=uow.alerts.count_by_service(incident.id),
        teams={t.name: t for t in _teams(uow, now, away)},
        people={p.handle: p for p in uow.oncall.people()},
        away=frozenset(w.handle for w in away if w.covers(now)),
        customer_summary=incident.customer_summary,
    )


def _last_triage_report(uow: UnitOfWork, incident_id: str) -> TriageFindings:
    reports = uow.timeline.for_incident(incident_id, ["triage.report"])
    return TriageFindings.from_report(reports[-1].data) if reports else TriageFindings()


def _teams(uow: UnitOfWork, now: datetime, away: Sequence[Window]) -> list[TeamInfo]:
    """Each team with who covers its first schedule now (and the rest of that rotation)."""
    schedules = uow.oncall.schedules(now)
    teams = []
    for team in uow.oncall.teams():
        info = TeamInfo(team.name, team.lead, team.escalation_policy)
        schedule = next((s for s in schedules if s.team == team.name), None)
        if schedule is not None:
            now_on = schedule.on_call(now, away)
            info = replace(
                info,
                schedule=schedule.name,
                on_call=now_on.handle,
                backups=tuple(now_on.backups),
                skipped=tuple(now_on.skipped),
            )
        teams.append(info)
    return teams


def apply_plan(
    uow: UnitOfWork, now: datetime, actor: Actor, incident: Incident, plan: CommanderPlan
) -> Incident:
    """War room, roles, status, outbox; every step on the timeline and in the audit."""
    roles = [(plan.commander, Role.COMMANDER), (plan.backup, Role.BACKUP)]
    roles += [(h, Role.RESPONDER) for h in plan.responders]
    holders = {plan.commander, plan.backup}
    for handle, role in roles:
        if handle and (role is not Role.RESPONDER or handle not in holders):
            hand_role(uow, actor, now, incident.id, handle, role)
    current = uow.incidents.get(incident.id, for_update=True) or incident
    changed = replace(
        current,
        channel=plan.channel,
        commander=plan.commander,
        private=current.private or plan.private,  # once secret, stays secret
    )
    changed = record_severity_change(uow, actor, now, changed, plan.severity, DECLARED_AS)
    if changed.status is IncidentStatus.TRIGGERED:  # declared; a person still has to ack
        moved = transition(changed, IncidentStatus.INVESTIGATING, now)
        changed = replace(moved, acknowledged_at=current.acknowledged_at)
    changed = replace(changed, updated_at=now, version=current.version + 1)
    uow.incidents.update(changed, expected_version=current.version)
    _queue(uow, now, incident.id, plan)
    summary = f"war room {plan.channel} opened; {commander_named(plan.commander)}"
    detail = {
        "channel": plan.channel,
        "topic": plan.topic,
        "private": plan.private,
        "commander": plan.commander,
        "backup": plan.backup,
        "owning_team": plan.owning_team,
        "decisions": list(plan.decisions),
        "timers": [t.to_json() for t in plan.timers],
    }
    record(
        uow,
        actor,
        now,
        Change(
            "incident.declare",
            "incident",
            incident.id,
            summary,
            detail,
            incident_id=incident.id,
            timeline_kind=EventKind.WAR_ROOM_OPENED,
        ),
    )
    return changed


def _queue(uow: UnitOfWork, now: datetime, incident_id: str, plan: CommanderPlan) -> None:
    invite = [p.slack_id for p in uow.oncall.people(list(plan.responders)) if p.slack_id]
    for message in plan.messages:
        shown = {"title": message.title, "state": message.state}
        payload: dict[str, Any] = {k: v for k, v in shown.items() if v is not None}
        payload |= {
            "channel": plan.channel,
            "topic": plan.topic,
            "private": plan.private,
            "invite": invite,
        }
        queue_message(
            uow,
            Outbound(
                incident_id,
                message.to,
                message.audience,
                message.kind,
                message.text,
                now,
                payload=payload | ({"approval": "draft"} if message.draft else {}),
                status=DeliveryStatus.DRAFT if message.draft else DeliveryStatus.PENDING,
            ),
        )
    for page in plan.pages:
        queue_page(
            uow,
            now,
            incident_id,
            page.handle,
            page.reason,
            plan.owning_team,
            extra={"policy": page.policy},
        )


def queue_page(
    uow: UnitOfWork,
    now: datetime,
    incident_id: str,
    handle: str,
    reason: str,
    team: str | None,
    topic: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """Page a person about the incident (through the outbox; its dedup key stored first)."""
    payload = page_payload(incident_id, handle, team, topic) | (extra or {})
    queue_message(
        uow,
        Outbound(
            incident_id,
            Destination.PAGER,
            "person",
            "page",
            reason,
            now,
            target=handle,
            payload=payload,
        ),
    )


def page_payload(
    incident_id: str, handle: str, team: str | None, topic: str = ""
) -> dict[str, Any]:
    """A page's identity at the pager (PagerDuty's dedup_key), stored before the first attempt
    so retries, the acknowledgement and the resolution all name the same alert."""
    suffix = f"-{topic}" if topic else ""
    return {"action": "trigger", "dedup_key": f"so1-{incident_id}-{handle}{suffix}", "team": team}
