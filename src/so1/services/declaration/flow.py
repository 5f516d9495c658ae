"""Declaration (runbook Phase 2): gather what the incident-commander agent needs, run it, and
apply its plan in one transaction: war room, roles, the incident moved to investigating,
and every message and page written to the outbox for delivery."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident, IncidentStatus, transition
from so1.domain.participants import Role
from so1.domain.records import AgentRun, RunStatus
from so1.domain.severity import Severity
from so1.errors import NotFound
from so1.ports import Agent, Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.incidents.lifecycle import IncidentPatch, apply_severity
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor, Change, record

COMMANDER_AGENT = "incident-commander"
COMMANDER_ACTOR = Actor(name=COMMANDER_AGENT)
# What the caller of POST /v1/orchestrate may set; SO1 fills in the rest from its records.
DECLARED_AS = "declared at this severity by the incident-commander"
REQUEST_KEYS = ("severity", "triage_report", "commander", "channel", "title", "status")


def commander_request(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, agent: Agent, raw: dict[str, Any]
) -> AgentRun:
    """`POST /v1/orchestrate` with the incident-commander: plan and apply for a stored incident."""
    incident_id = raw.get("incident_id")
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, str(incident_id) if incident_id else None)
        incident = uow.incidents.get(str(incident_id), for_update=True) if incident_id else None
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist; declare it first")
        request = {k: raw[k] for k in REQUEST_KEYS if raw.get(k) is not None}
        run = run_and_apply(uow, now, actor, agent, incident, request)
        uow.commit()
    return run


def run_and_apply(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    agent: Agent,
    incident: Incident,
    request: dict[str, Any],
) -> AgentRun:
    """Run the agent on the incident (``request`` overrides) and apply a successful plan."""
    inputs = commander_inputs(uow, now, incident, request)
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        COMMANDER_AGENT,
        RunStatus.RUNNING,
        inputs,
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
    done = replace(run, status=RunStatus.COMPLETED, output=plan, finished_at=now)
    uow.agent_runs.add(done)
    return done


def commander_inputs(
    uow: UnitOfWork, now: datetime, incident: Incident, request: dict[str, Any]
) -> dict[str, Any]:
    report = request.get("triage_report") or _last_triage_report(uow, incident.id)
    return {
        "incident_id": incident.id,
        "severity": request.get("severity") or incident.severity.value,
        "title": request.get("title") or incident.title,
        "status": request.get("status") or "Investigating",
        "service": incident.service,
        "detected_at": incident.detected_at.isoformat(),
        "now": now.isoformat(),
        "triage_report": {**report, "impact": {**incident.impact, **(report.get("impact") or {})}},
        "commander": request.get("commander"),
        "channel": request.get("channel"),
        "context": _context(uow, now, incident),
    }


def _last_triage_report(uow: UnitOfWork, incident_id: str) -> dict[str, Any]:
    reports = uow.timeline.for_incident(incident_id, ["triage.report"])
    return dict(reports[-1].data) if reports else {}


def _context(uow: UnitOfWork, now: datetime, incident: Incident) -> dict[str, Any]:
    away = uow.oncall.time_off(now)
    schedules = uow.oncall.schedules(now)
    teams = []
    for team in uow.oncall.teams():
        entry: dict[str, Any] = {
            "name": team.name,
            "lead": team.lead,
            "escalation_policy": team.escalation_policy,
        }
        schedule = next((s for s in schedules if s.team == team.name), None)
        if schedule is not None:
            now_on = schedule.on_call(now, away)
            entry |= {
                "schedule": schedule.name,
                "on_call": now_on.handle,
                "backups": list(now_on.backups),
                "skipped": list(now_on.skipped),
            }
        teams.append(entry)
    return {
        "services": [
            {
                "name": s.name,
                "owner_team": s.owner_team,
                "tier": s.tier.value,
                "public_name": s.public_name,
            }
            for s in uow.catalog.all()
        ],
        "alert_counts": uow.alerts.count_by_service(incident.id),
        "teams": teams,
        "people": [
            {"handle": p.handle, "name": p.name, "team": p.team, "seniority": p.seniority.value}
            for p in uow.oncall.people()
        ],
        "away": sorted({w.handle for w in away if w.covers(now)}),
    }


def apply_plan(
    uow: UnitOfWork, now: datetime, actor: Actor, incident: Incident, plan: dict[str, Any]
) -> Incident:
    """War room, roles, status, outbox; every step on the timeline and in the audit."""
    roles = [(plan.get("commander"), Role.COMMANDER), (plan.get("backup"), Role.BACKUP)]
    roles += [(h, Role.RESPONDER) for h in plan.get("responders", [])]
    holders = {plan.get("commander"), plan.get("backup")}
    for handle, role in roles:
        if handle and (role is not Role.RESPONDER or handle not in holders):
            hand_role(uow, actor, now, incident.id, handle, role)
    current = uow.incidents.get(incident.id, for_update=True) or incident
    changed = replace(
        current,
        channel=plan["channel"],
        commander=plan.get("commander"),
        private=current.private or bool(plan.get("private")),  # once secret, stays secret
    )
    declared = IncidentPatch(severity=Severity(plan["severity"]), severity_reason=DECLARED_AS)
    changed = apply_severity(uow, actor, now, changed, declared)
    if changed.status is IncidentStatus.TRIGGERED:  # declared; a person still has to ack
        moved = transition(changed, IncidentStatus.INVESTIGATING, now)
        changed = replace(moved, acknowledged_at=current.acknowledged_at)
    changed = replace(changed, updated_at=now, version=current.version + 1)
    uow.incidents.update(changed, expected_version=current.version)
    _queue(uow, now, incident.id, plan)
    summary = f"war room {plan['channel']} opened; commander @{plan.get('commander')}"
    detail = {
        k: plan.get(k)
        for k in (
            "channel",
            "topic",
            "private",
            "commander",
            "backup",
            "owning_team",
            "decisions",
            "timers",
        )
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
            timeline_kind="war_room.opened",
        ),
    )
    return changed


def _queue(uow: UnitOfWork, now: datetime, incident_id: str, plan: dict[str, Any]) -> None:
    handles = [h for h in plan.get("responders", []) if h]
    invite = [p.slack_id for p in uow.oncall.people(handles) if p.slack_id]
    for message in plan.get("messages", []):
        payload: dict[str, Any] = {k: message[k] for k in ("title", "state") if k in message}
        payload |= {
            "channel": plan["channel"],
            "topic": plan.get("topic"),
            "private": bool(plan.get("private")),
            "invite": invite,
        }
        uow.outbox.add(
            Outbound(
                incident_id,
                Destination(message["to"]),
                message["audience"],
                message["kind"],
                message["text"],
                now,
                payload=payload,
            )
        )
    for page in plan.get("pages", []):
        queue_page(
            uow,
            now,
            incident_id,
            page["handle"],
            page["reason"],
            plan.get("owning_team"),
            extra={"policy": page.get("policy")},
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
    uow.outbox.add(
        Outbound(
            incident_id,
            Destination.PAGER,
            "person",
            "page",
            reason,
            now,
            target=handle,
            payload=payload,
        )
    )


def page_payload(
    incident_id: str, handle: str, team: str | None, topic: str = ""
) -> dict[str, Any]:
    """A page's identity at the pager (PagerDuty's dedup_key), stored before the first attempt
    so retries, the acknowledgement and the resolution all name the same alert."""
    suffix = f"-{topic}" if topic else ""
    return {"action": "trigger", "dedup_key": f"so1-{incident_id}-{handle}{suffix}", "team": team}
