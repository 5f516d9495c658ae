"""The incident-commander agent (runbook Phase 2: Declaration): from an incident, its triage
report and who is available, a plan: war room, commander and backup, responders, messages,
pages and clocks. Pure and deterministic; services apply the plan.

Plan keys: incident_id, severity, status ("completed"), channel, private, topic,
owning_team, most_affected_service, commander, commander_role, backup, lead, executive,
responders, decisions (why), messages (to war_room / status_page, audience, kind, text),
pages (handle, reason, policy), timers (check, due_at or due_in_minutes, every_minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from so1.agents.commander.comms import (
    UPDATE_MINUTES,
    comms,
    customer_symptom,
    impact_line,
    leading_cause,
    title_case,
)
from so1.agents.commander.inputs import INCIDENT_ID, CommanderInputs, parse_inputs
from so1.agents.commander.roles import Roles, decide_roles
from so1.domain.severity import SEVERITY_TABLE, Severity

ACKNOWLEDGE_WITHIN = timedelta(minutes=2)  # runbook Phase 1: acknowledge within 2 minutes
FIRST_MESSAGE_WITHIN = timedelta(minutes=5)  # Phase 2: initial communication < 5 min


class IncidentCommander:
    name = "incident-commander"

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        parsed = parse_inputs(inputs)
        roles = decide_roles(parsed)
        channel = parsed.channel or default_channel(parsed.incident_id)
        commander = roles.commander or "unassigned"
        title = title_case(parsed.title)
        plan: dict[str, Any] = {
            "incident_id": parsed.incident_id,
            "severity": parsed.severity.value,
            "status": "completed",
            "channel": channel,
            "private": parsed.security,
            "topic": comms().render(
                "topic",
                severity=parsed.severity.value,
                title_plain=parsed.title,
                commander=commander,
            ),
            "owning_team": roles.owning_team,
            "most_affected_service": roles.most_affected,
            "commander": roles.commander,
            "commander_role": SEVERITY_TABLE[parsed.severity].commander_role,
            "backup": roles.backup,
            "lead": roles.lead,
            "executive": roles.executive,
            "responders": _responders(parsed, roles),
            "decisions": roles.decisions,
            "messages": _messages(parsed, roles, channel, title, commander),
            "pages": _pages(parsed, roles),
            "timers": _timers(parsed),
        }
        _similar(plan, inputs)
        return plan


def _similar(plan: dict[str, Any], inputs: Mapping[str, Any]) -> None:
    """Past incidents like this one (from triage) as evidence for the room."""
    report = inputs.get("triage_report")
    found = report.get("similar_incidents") if isinstance(report, Mapping) else None
    past = [s for s in found or [] if isinstance(s, Mapping) and s.get("incident_id")]
    plan["similar_incidents"] = past
    lines = [
        f"- {s['incident_id']} ({s.get('cause', 'unknown').replace('_', ' ')}, similarity"
        f" {float(s.get('score', 0)):.2f}): {s.get('title', '')}"
        + (f"; fixed by: {s['resolution']}" if s.get("resolution") else "")
        for s in past
    ]
    if lines and not plan["private"]:
        text = "📎 **Similar past incidents**\n" + "\n".join(lines)
        plan["messages"].append(_message("war_room", "internal", "note", text))


def default_channel(incident_id: str) -> str:
    """#incident-YYYYMMDD-XXXX from INC-YYYYMMDD-XXXX."""
    match = INCIDENT_ID.match(incident_id)
    assert match is not None  # parse_inputs checked it
    return f"#incident-{match.group(1)}-{match.group(2)}"


def _responders(inputs: CommanderInputs, roles: Roles) -> list[str]:
    people = [roles.commander, roles.backup]
    if inputs.severity.rank <= 1:
        people.append(roles.lead)
    if inputs.severity is Severity.SEV0:
        people.append(roles.executive)
    for service in inputs.services.values():  # on-call of every other affected team
        team = inputs.teams.get(service.owner_team or "")
        if team and team.name != roles.owning_team and service.name in inputs.alert_counts:
            people.append(team.on_call)
    return [h for h in dict.fromkeys(people) if h]


def _messages(
    inputs: CommanderInputs, roles: Roles, channel: str, title: str, commander: str
) -> list[dict[str, Any]]:
    kn = comms()
    impact, affected = impact_line(inputs)
    cause = leading_cause(inputs)
    values = {
        "severity": inputs.severity.value,
        "title": title,
        "status": inputs.status,
        "impact": impact,
        "commander": commander,
        "channel": channel,
        "focus": kn.focus.get(cause, kn.focus["unknown"]),
        "update_minutes": UPDATE_MINUTES,
        "affected": affected,
        "lead": roles.lead or "engineering-lead",
    }
    internal = "security_internal" if inputs.security else "declared_internal"
    out = [_message("war_room", "internal", "declared", kn.render(internal, **values))]
    if SEVERITY_TABLE[inputs.severity].status_page and not inputs.security:
        symptom = customer_symptom(inputs)
        component = _component(inputs, roles)
        text = kn.render(
            "declared_status_page",
            **{
                **values,
                "component": component,
                "issue": symptom.issue,
                "symptom": symptom.customer,
            },
        )
        message = _message("status_page", "customer", "declared", text)
        message |= {"title": f"{component} {symptom.issue}", "state": "investigating"}
        out.append(message)
    if inputs.severity is Severity.SEV0:
        out.append(_message("war_room", "internal", "all_hands", kn.render("all_hands", **values)))
    if inputs.severity.rank <= 1:
        out.append(
            _message("war_room", "internal", "escalation", kn.render("escalation", **values))
        )
    return out


def _message(to: str, audience: str, kind: str, text: str) -> dict[str, Any]:
    return {"to": to, "audience": audience, "kind": kind, "text": text}


def _component(inputs: CommanderInputs, roles: Roles) -> str:
    service = inputs.services.get(roles.most_affected or "")
    if service and service.public_name:
        return service.public_name
    return title_case((roles.most_affected or "service").replace("-", " "))


def _pages(inputs: CommanderInputs, roles: Roles) -> list[dict[str, Any]]:
    if inputs.severity is Severity.SEV4:
        return []  # best effort: a ticket, nobody woken
    team = inputs.teams.get(roles.owning_team or "")
    policy = team.escalation_policy if team else None
    pages = []
    if roles.commander:
        pages.append({"handle": roles.commander, "reason": "incident commander", "policy": policy})
    if inputs.severity.rank <= 1 and roles.lead and roles.lead != roles.commander:
        reason = f"{inputs.severity.value}: escalation to the engineering lead"
        pages.append({"handle": roles.lead, "reason": reason, "policy": None})
    if roles.executive:
        pages.append({"handle": roles.executive, "reason": "SEV0: executive", "policy": None})
    return pages


def _timers(inputs: CommanderInputs) -> list[dict[str, Any]]:
    timers = []
    for check, base, after in (
        ("acknowledge", inputs.detected_at, ACKNOWLEDGE_WITHIN),
        ("initial_communication", inputs.detected_at, FIRST_MESSAGE_WITHIN),
        ("status_update", inputs.now, timedelta(minutes=UPDATE_MINUTES)),
    ):
        timer: dict[str, Any] = {"check": check}
        if base is not None:
            timer["due_at"] = (base + after).isoformat()
        else:
            timer["due_in_minutes"] = after.total_seconds() / 60
        if check == "status_update":
            timer["every_minutes"] = UPDATE_MINUTES
        timers.append(timer)
    return timers
