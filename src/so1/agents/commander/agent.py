"""The incident-commander agent (runbook Phase 2: Declaration): from an incident, its triage
report and who is available, a plan: war room, commander and backup, responders, messages,
pages and clocks. Pure and deterministic; services apply the plan.

Its inputs and plan are typed in ``contract``: ``CommanderInputs`` → ``CommanderPlan``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from so1.agents.commander.comms import (
    UPDATE_MINUTES,
    comms,
    customer_symptom,
    impact_line,
    leading_cause,
    title_case,
)
from so1.agents.commander.contract import (
    CommanderInputs,
    CommanderPlan,
    PlannedMessage,
    PlannedPage,
    Timer,
)
from so1.agents.commander.roles import Roles, decide_roles
from so1.domain.comms import Destination
from so1.domain.incidents import INCIDENT_ID_PATTERN
from so1.domain.severity import SEVERITY_TABLE, Severity

ACKNOWLEDGE_WITHIN = timedelta(minutes=2)  # runbook Phase 1: acknowledge within 2 minutes
FIRST_MESSAGE_WITHIN = timedelta(minutes=5)  # Phase 2: initial communication < 5 min


STATUS_PAGE_APPROVALS = ("auto", "draft")


class IncidentCommander:
    """``status_page_approval``: ``auto`` posts the SEV0-1 status-page notice at once;
    ``draft`` plans it as a draft that a person edits and publishes."""

    name = "incident-commander"

    def __init__(self, status_page_approval: str = "auto") -> None:
        if status_page_approval not in STATUS_PAGE_APPROVALS:
            wrong = repr(status_page_approval)
            raise ValueError(f"status_page_approval must be auto or draft, not {wrong}")
        self.status_page_approval = status_page_approval

    def run(self, inputs: CommanderInputs) -> CommanderPlan:
        roles = decide_roles(inputs)
        channel = inputs.channel or default_channel(inputs.incident_id)
        commander = roles.commander
        topic = comms().render(
            "topic", severity=inputs.severity.value, title_plain=inputs.title, commander=commander
        )
        messages = _messages(inputs, roles, channel, title_case(inputs.title), commander)
        if self.status_page_approval == "draft":
            messages = [replace(m, draft=m.to is Destination.STATUS_PAGE) for m in messages]
        return CommanderPlan(
            incident_id=inputs.incident_id,
            severity=inputs.severity,
            channel=channel,
            private=inputs.security,
            topic=topic,
            owning_team=roles.owning_team,
            most_affected_service=roles.most_affected,
            commander=roles.commander,
            commander_role=SEVERITY_TABLE[inputs.severity].commander_role,
            backup=roles.backup,
            lead=roles.lead,
            executive=roles.executive,
            responders=tuple(_responders(inputs, roles)),
            decisions=tuple(roles.decisions),
            messages=(*messages, *_similar(inputs)),
            pages=tuple(_pages(inputs, roles)),
            timers=tuple(_timers(inputs)),
            similar_incidents=inputs.findings.similar_incidents,
        )


def _similar(inputs: CommanderInputs) -> list[PlannedMessage]:
    """Past incidents like this one (from triage) as evidence for the room."""
    lines = [
        f"- {s.incident_id} ({s.cause.replace('_', ' ')}, similarity {s.score:.2f}): {s.title}"
        + (f"; fixed by: {s.resolution}" if s.resolution else "")
        for s in inputs.findings.similar_incidents
    ]
    if not lines or inputs.security:
        return []
    text = "📎 **Similar past incidents**\n" + "\n".join(lines)
    return [PlannedMessage(Destination.WAR_ROOM, "internal", "note", text)]


def default_channel(incident_id: str) -> str:
    """#incident-YYYYMMDD-XXXX from INC-YYYYMMDD-XXXX."""
    match = INCIDENT_ID_PATTERN.match(incident_id)
    if match is None:
        raise ValueError(f"incident_id must look like INC-YYYYMMDD-NNNN, not {incident_id!r}")
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
    inputs: CommanderInputs, roles: Roles, channel: str, title: str, commander: str | None
) -> list[PlannedMessage]:
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
    war_room = Destination.WAR_ROOM
    out = [PlannedMessage(war_room, "internal", "declared", kn.render(internal, **values))]
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
                "customer_summary": (inputs.customer_summary or "").strip(),
            },
        )
        public = f"{component} {symptom.issue}"
        page = Destination.STATUS_PAGE
        out.append(PlannedMessage(page, "customer", "declared", text, public, "investigating"))
    if inputs.severity is Severity.SEV0:
        all_hands = kn.render("all_hands", **values)
        out.append(PlannedMessage(war_room, "internal", "all_hands", all_hands))
    if inputs.severity.rank <= 1:
        escalation = kn.render("escalation", **values)
        out.append(PlannedMessage(war_room, "internal", "escalation", escalation))
    return out


def _component(inputs: CommanderInputs, roles: Roles) -> str:
    service = inputs.services.get(roles.most_affected or "")
    if service and service.public_name:
        return service.public_name
    return title_case((roles.most_affected or "service").replace("-", " "))


def _pages(inputs: CommanderInputs, roles: Roles) -> list[PlannedPage]:
    if inputs.severity is Severity.SEV4:
        return []  # best effort: a ticket, nobody woken
    team = inputs.teams.get(roles.owning_team or "")
    policy = team.escalation_policy if team else None
    pages = []
    if roles.commander:
        pages.append(PlannedPage(roles.commander, "incident commander", policy))
    if inputs.severity.rank <= 1 and roles.lead and roles.lead != roles.commander:
        reason = f"{inputs.severity.value}: escalation to the engineering lead"
        pages.append(PlannedPage(roles.lead, reason))
    if roles.executive:
        pages.append(PlannedPage(roles.executive, "SEV0: executive"))
    return pages


def _timers(inputs: CommanderInputs) -> list[Timer]:
    timers = []
    for check, base, after in (
        ("acknowledge", inputs.detected_at, ACKNOWLEDGE_WITHIN),
        ("initial_communication", inputs.detected_at, FIRST_MESSAGE_WITHIN),
        ("status_update", inputs.now, timedelta(minutes=UPDATE_MINUTES)),
    ):
        every = UPDATE_MINUTES if check == "status_update" else None
        if base is not None:
            timers.append(Timer(check, due_at=base + after, every_minutes=every))
        else:
            minutes = after.total_seconds() / 60
            timers.append(Timer(check, due_in_minutes=minutes, every_minutes=every))
    return timers
