"""Triage one alert and act on its report: join the open incident it belongs to (unless
triage found an unrelated cause), or open an incident, a ticket, or close the alert."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from so1.agents.registry import CommanderAgent
from so1.agents.triage import TriageAgent, TriageInput, TriageReport
from so1.domain.alerts import Alert, AlertStatus
from so1.domain.incidents import Incident
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.domain.timeline import EventKind
from so1.domain.triage import Escalation, TriageStatus
from so1.ports import UnitOfWork
from so1.services.declaration.flow import declare_after_triage
from so1.services.incidents.lifecycle import NewIncident, declare
from so1.services.incidents.recording import Change, noted
from so1.services.triage.context import Surroundings, recorded, triage_inputs
from so1.services.triage.join_notes import TRIAGE_ACTOR
from so1.services.triage.joining import (
    join_incident,
    join_triaged,
    opened_new_because,
    storm_note,
    unrelated_cause,
    with_reason,
)
from so1.services.triage.scope import scope_of

# The report, the incident the alert is now on (None: none) and the alerts attached with it.
Outcome = tuple[TriageReport, str | None, list[str]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the agent was shown (and its record) and what it answered (its report, or why it
    failed); when the report opens an incident, the alerts it would gather (None: not read)."""

    inputs: TriageInput
    record: dict[str, Any]
    report: TriageReport | None
    error: str | None = None
    nearby: list[Alert] | None = None


def prepare(
    uow: UnitOfWork,
    agent: TriageAgent,
    alert: Alert,
    now: datetime,
    around: Surroundings,
    joining: str | None = None,
    in_pass: bool = False,
) -> Prepared:
    """Read the alert's inputs and run the agent; only reads. ``in_pass``: a triage pass
    asks, before it writes; when the report opens an incident (there is none open to join:
    ``joining``), also read the alerts it gathers, but not those waiting for triage: the
    passes that follow decide them, and they join it then (each is written once)."""
    inputs = triage_inputs(uow, alert, now, around.rule.window, around)
    try:
        report = agent.run(inputs)
    except Exception as exc:  # a failing agent is a failed run; the alert stays open
        return Prepared(inputs, recorded(inputs), None, f"{type(exc).__name__}: {exc}")
    opens = joining is None and report.is_incident and report.escalation is not Escalation.TICKET
    nearby = _gatherable(uow, alert, now, around, waiting_too=False) if in_pass and opens else None
    return Prepared(inputs, recorded(inputs), report, nearby=nearby)


def _gatherable(
    uow: UnitOfWork, alert: Alert, now: datetime, around: Surroundings, waiting_too: bool
) -> list[Alert]:
    """The alerts of the alert's services in the correlation window that a new incident may
    gather (``waiting_too``: also those waiting for triage)."""
    scope = sorted(scope_of(alert.service, around.rule, around.graph))
    since = now - around.rule.window
    return uow.alerts.recent(scope, since) if waiting_too else uow.alerts.gatherable(scope, since)


def triage(
    uow: UnitOfWork,
    agent: TriageAgent,
    alert: Alert,
    now: datetime,
    around: Surroundings,
    commander: CommanderAgent | None = None,
    joining: str | None = None,
    prepared: Prepared | None = None,
) -> Outcome | None:
    """Run the agent and apply its report: (report, incident id, alerts attached) or None.
    ``joining``: the open incident the alert belongs to, unless triage finds another cause;
    ``prepared``: the agent's answer when it was run earlier in the transaction."""
    prepared = prepared or prepare(uow, agent, alert, now, around)
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.TRIAGE,
        RunStatus.RUNNING,
        prepared.record,
        now,
        TRIAGE_ACTOR.name,
    )
    report = prepared.report
    if report is None:  # a failing agent is a failed run; the alert stays open
        error = prepared.error
        uow.agent_runs.add(replace(run, status=RunStatus.FAILED, error=error, finished_at=now))
        if joining is not None:  # it still belongs to the open incident
            join_incident(uow, now, [alert], joining, around.rule)
            uow.alerts.finish_triage(alert.id, "correlated", run.id)
        else:
            uow.alerts.finish_triage(alert.id, "failed", run.id)
        return None
    report, (state, incident_id, attached) = _join_or_apply(
        uow, now, alert, report, around, commander, joining, prepared.nearby
    )
    report = report.for_incident(incident_id)
    output = report.as_json()
    uow.agent_runs.add(
        replace(
            run, status=RunStatus.COMPLETED, output=output, finished_at=now, incident_id=incident_id
        )
    )
    uow.alerts.finish_triage(alert.id, state, run.id)
    return report, incident_id, attached


def _join_or_apply(
    uow: UnitOfWork,
    now: datetime,
    alert: Alert,
    report: TriageReport,
    around: Surroundings,
    commander: CommanderAgent | None,
    joining: str | None,
    nearby: list[Alert] | None,
) -> tuple[TriageReport, tuple[str, str | None, list[str]]]:
    """Join the open incident unless triage found an unrelated cause; otherwise act on the
    report (``nearby``: the alerts a new incident gathers, when already read). The report
    comes back with the rationale of what was done."""
    split = unrelated_cause(uow, joining, report) if joining is not None else None
    if joining is not None and split is None:
        joined = join_triaged(uow, now, alert, report, joining, around.rule)
        return joined, ("correlated", joining, [])
    reason = split or opened_new_because(
        set(scope_of(alert.service, around.rule, around.graph)), alert
    )
    if alert.status is AlertStatus.RESOLVED:
        reason = "opened new: the alert had resolved before triage, so it joined no incident"
    report = with_reason(report, reason) if report.is_incident else report
    return report, apply_report(uow, now, alert, report, around, commander, nearby)


def apply_report(
    uow: UnitOfWork,
    now: datetime,
    alert: Alert,
    report: TriageReport,
    around: Surroundings,
    commander: CommanderAgent | None = None,
    nearby: list[Alert] | None = None,
) -> tuple[str, str | None, list[str]]:
    """Act on the triage decision: an incident (SEV0-3), a ticket (SEV4), or close.
    Returns the alert's triage state, the incident opened and the alerts attached to it.
    An incident gathers the open alerts of its services in the correlation window with no
    incident yet (``nearby``: those a pass read before it wrote; see ``prepare``)."""
    if not report.is_incident:
        reason = "; ".join(report.rationale) or "triage: not an incident"
        uow.alerts.close(alert.id, now, reason[:1000])
        return "closed", None, []
    if report.escalation is Escalation.TICKET:
        uow.action_items.add_ticket(alert.id, f"SEV4: {alert.summary}"[:500], "low", now)
        return "ticket", None, []
    if nearby is None:  # one alert decided alone: nobody may decide the waiting ones soon
        nearby = _gatherable(uow, alert, now, around, waiting_too=True)
    related = [a for a in nearby if a.incident_id is None and a.status.is_open and a.id != alert.id]
    gathered = [alert, *related]
    storm = len(gathered) if len(gathered) >= around.rule.storm_threshold else 0
    incident = _declare_from(uow, now, alert, report, storm)
    uow.alerts.attach([a.id for a in gathered], incident.id)
    if commander is not None:  # runbook Phase 2 follows at once: war room, commander, comms
        findings = report.for_incident(incident.id).as_json()
        declare_after_triage(uow, now, TRIAGE_ACTOR, commander, incident, findings)
    return "incident", incident.id, [a.id for a in related]


def _declare_from(
    uow: UnitOfWork, now: datetime, alert: Alert, report: TriageReport, storm: int
) -> Incident:
    """Open the incident, its timeline starting with triage's report (and, when it gathers a
    storm of ``storm`` alerts, that it is one)."""
    assert report.severity is not None  # apply_report declares incidents only
    summary = (
        f"Triage: {report.severity}, confidence {report.confidence}, likely {report.top_cause}"
    )
    if report.status is TriageStatus.INVESTIGATION_REQUIRED:
        summary += " (investigation required: confidence below 70%)"
    new = NewIncident(
        title=alert.summary[:300],
        severity=report.severity,
        service=alert.service,
        summary=summary,
        impact={
            "users_affected": report.impact.users_affected,
            "services": list(report.impact.services),
        },
        storm=storm > 0,
    )

    def notes(incident: Incident) -> list[Change]:
        data = report.for_incident(incident.id).as_json()
        told = noted(incident.id, EventKind.TRIAGE_REPORT, summary, data)
        return [told, storm_note(incident.id, storm)] if storm else [told]

    return declare(uow, TRIAGE_ACTOR, now, new, min(alert.first_seen_at, now), notes)
