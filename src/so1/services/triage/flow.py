"""After intake: correlate each new alert with open incidents, otherwise triage it and apply
the decision (incident, ticket, or close). Runs in the background worker, and inline for
`POST /v1/orchestrate` with the triage-responder."""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from so1.agents.registry import CommanderAgent
from so1.agents.triage import TriageAgent, TriageReport
from so1.domain.alerts import Alert, AlertStatus
from so1.domain.incidents import Incident
from so1.domain.intake import DEFAULT_RULE, CorrelationRule, connected_services
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.domain.timeline import EventKind
from so1.domain.triage import Escalation, TriageStatus
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.declaration.flow import declare_after_triage
from so1.services.incidents.lifecycle import NewIncident, declare
from so1.services.incidents.recording import note
from so1.services.triage.context import recorded, triage_inputs
from so1.services.triage.joining import (
    TRIAGE_ACTOR,
    JoinTriageMemo,
    join_incident,
    join_triaged,
    opened_new_because,
    unrelated_cause,
    with_reason,
)

log = logging.getLogger("so1.triage")

CLAIM_BATCH = 100  # one transaction decides this many; bounded so intake is not held up long
PEEK_FACTOR = 5  # look this many batches ahead for alerts of groups no other worker holds
GROUP_BUSY_PAUSE = 0.05  # seconds to wait when every waiting group is held by another worker
STALE_CLAIM = timedelta(seconds=60)


@dataclass
class _Batch:
    """What one pass knows: the rule and graph (read once) and what it decided so far."""

    rule: CorrelationRule
    graph: dict[str, list[str]]
    memo: JoinTriageMemo  # which signals of open incidents were triaged lately
    commander: CommanderAgent | None = None  # runs the declaration when triage opens an incident
    # the open incident of each service group, looked up once per pass (None: none open)
    targets: dict[frozenset[str], str | None] = field(default_factory=dict)
    joined: dict[str, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    finished: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    attached: set[str] = field(default_factory=set)


def process_pending(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    recover_stale: bool = True,
    commander: CommanderAgent | None = None,
    memo: JoinTriageMemo | None = None,
) -> int:
    """Claim and process waiting alerts until none is left; returns how many were handled.

    Each pass claims a batch and decides it in one transaction (a storm of thousands of
    related alerts costs a few statements per batch, not per alert); if a pass fails, its
    alerts are retried one transaction each so one bad alert cannot block the rest.
    ``recover_stale`` also takes over claims a crashed worker left (older than a minute);
    the background worker asks for it now and then rather than on every pass. ``memo``:
    the signals of open incidents triaged lately (the worker keeps one across calls)."""
    memo = memo if memo is not None else JoinTriageMemo()
    handled = 0
    while True:
        try:
            count, drained = _process_batch(
                uow_factory, clock, agent, recover_stale, commander, memo
            )
        except Exception:
            log.exception("triage batch failed; retrying its alerts one by one")
            count = _process_singly(uow_factory, clock, agent, commander)
            drained = count < CLAIM_BATCH
        handled += count
        if drained:  # it decided all it saw waiting; a new alert wakes us
            return handled
        if count == 0:  # what waits is being decided by another worker
            time.sleep(GROUP_BUSY_PAUSE)


def _process_batch(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    recover_stale: bool,
    commander: CommanderAgent | None,
    memo: JoinTriageMemo,
) -> tuple[int, bool]:
    """Decide one batch; returns how many alerts it decided and whether those were all it
    saw waiting (none left to another worker, none taken by one since it looked)."""
    now = clock.now()
    with uow_factory() as uow:
        stale_before = now - STALE_CLAIM if recover_stale else None
        waiting = uow.alerts.waiting(CLAIM_BATCH * PEEK_FACTOR, stale_before)
        if not waiting:
            return 0, True
        batch = _Batch(_active_rule(uow), _graph(uow), memo, commander)
        ids, skipped = _lock_groups(uow, waiting, batch)
        claimed = uow.alerts.claim_among(ids, now, stale_before) if ids else []
        for alert in claimed:
            _decide(uow, agent, now, alert, batch)
        _flush(uow, now, batch)
        uow.commit()
    drained = not skipped and len(claimed) == len(waiting) < CLAIM_BATCH
    return len(claimed), drained


def _lock_groups(
    uow: UnitOfWork, waiting: list[tuple[str, str | None]], batch: _Batch
) -> tuple[list[str], bool]:
    """Up to a batch of the waiting alerts, whole groups at a time, of the dependency groups
    this worker could lock (never waiting: a held group is left to its holder, so another
    worker takes the next groups), and whether any group was left to another worker."""
    groups: dict[str | None, list[str]] = defaultdict(list)
    for alert_id, service in waiting:
        groups[group_key(service, batch.rule, batch.graph)].append(alert_id)
    ids: list[str] = []
    skipped = False
    for key, alert_ids in groups.items():
        if len(ids) >= CLAIM_BATCH:
            break
        if key is None or uow.intake.lock_group(key, wait=False):
            ids += alert_ids
        else:
            skipped = True
    return ids[:CLAIM_BATCH], skipped


def group_key(
    service: str | None, rule: CorrelationRule, graph: dict[str, list[str]]
) -> str | None:
    """What names the group of services whose alerts are decided one at a time: the first
    service of the dependency group (None: an alert with no service correlates with none)."""
    scope = _scope_of(service, rule, graph)
    return min(scope) if scope else None


def _decide(
    uow: UnitOfWork, agent: TriageAgent, now: datetime, alert: Alert, batch: _Batch
) -> None:
    if alert.status is AlertStatus.SUPPRESSED:
        batch.finished["suppressed"].append(alert.id)
        return
    if alert.id in batch.attached:
        batch.finished["correlated"].append(alert.id)
        return
    services = frozenset(_scope(alert, batch.rule, batch.graph))
    target = _open_incident_around(uow, services, batch) if services else None
    joining = target if alert.status is not AlertStatus.RESOLVED else None
    if joining is not None and not batch.memo.due(joining, alert, now):
        batch.joined[joining].append(alert)  # its signal was triaged lately: join as it is
        batch.finished["correlated"].append(alert.id)
        return
    if joining is not None:
        batch.memo.mark(joining, alert, now)
    outcome = _triage(uow, agent, alert, now, batch.rule, batch.commander, joining)
    if outcome is not None and outcome[1] is not None:
        batch.memo.mark(outcome[1], alert, now)  # the same signal joins it without triage
        if services:
            batch.targets[services] = outcome[1]
            batch.attached.update(outcome[2])


def _open_incident_around(uow: UnitOfWork, services: frozenset[str], batch: _Batch) -> str | None:
    if services not in batch.targets:
        batch.targets[services] = uow.alerts.open_incident_for(sorted(services))
    return batch.targets[services]


def _flush(uow: UnitOfWork, now: datetime, batch: _Batch) -> None:
    for incident_id, alerts in batch.joined.items():
        join_incident(uow, now, alerts, incident_id, batch.rule)
    for state, alert_ids in batch.finished.items():
        uow.alerts.finish_many(alert_ids, state)


def _process_singly(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    commander: CommanderAgent | None,
) -> int:
    now = clock.now()
    with uow_factory() as uow:
        claimed = uow.alerts.claim_pending(CLAIM_BATCH, now, now - STALE_CLAIM)
        uow.commit()
    for alert in claimed:
        try:
            process_alert(uow_factory, clock, agent, alert.id, commander)
        except Exception:  # mark it, so a poison alert is not retried for ever
            log.exception("processing alert %s failed", alert.id)
            with uow_factory() as uow:
                uow.alerts.finish_triage(alert.id, "failed")
                uow.commit()
    return len(claimed)


def process_alert(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    alert_id: str,
    commander: CommanderAgent | None = None,
) -> TriageReport | None:
    """Correlate or triage one alert in one transaction; returns the triage report if run."""
    now = clock.now()
    with uow_factory() as uow:
        alert = uow.alerts.get(alert_id)
        if alert is None:
            return None
        rule = _active_rule(uow)
        graph = _graph(uow)
        key = group_key(alert.service, rule, graph)
        if key is not None:
            uow.intake.lock_group(key)
        if uow.alerts.triage_state(alert_id) not in ("pending", "processing"):
            return None
        if alert.status is AlertStatus.SUPPRESSED:
            uow.alerts.finish_triage(alert.id, "suppressed")
            uow.commit()
            return None
        services = _scope(alert, rule, graph)
        incident_id = uow.alerts.open_incident_for(sorted(services)) if services else None
        joining = incident_id if alert.status is not AlertStatus.RESOLVED else None
        outcome = _triage(uow, agent, alert, now, rule, commander, joining)
        uow.commit()
    return outcome[0] if outcome else None


def _triage(
    uow: UnitOfWork,
    agent: TriageAgent,
    alert: Alert,
    now: datetime,
    rule: CorrelationRule,
    commander: CommanderAgent | None = None,
    joining: str | None = None,
) -> tuple[TriageReport, str | None, list[str]] | None:
    """Run the agent and apply its report: (report, incident id, alerts attached) or None.
    ``joining``: the open incident the alert belongs to, unless triage finds another cause."""
    inputs = triage_inputs(uow, alert, now, rule.window)
    run = AgentRun(
        f"run_{secrets.token_hex(10)}",
        AgentName.TRIAGE,
        RunStatus.RUNNING,
        recorded(inputs),
        now,
        TRIAGE_ACTOR.name,
    )
    try:
        report = agent.run(inputs)
    except Exception as exc:  # a failing agent is a failed run; the alert stays open
        error = f"{type(exc).__name__}: {exc}"
        uow.agent_runs.add(replace(run, status=RunStatus.FAILED, error=error, finished_at=now))
        if joining is not None:  # it still belongs to the open incident
            join_incident(uow, now, [alert], joining, rule)
            uow.alerts.finish_triage(alert.id, "correlated", run.id)
        else:
            uow.alerts.finish_triage(alert.id, "failed", run.id)
        return None
    report, (state, incident_id, attached) = _join_or_apply(
        uow, now, alert, report, rule, commander, joining
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
    rule: CorrelationRule,
    commander: CommanderAgent | None,
    joining: str | None,
) -> tuple[TriageReport, tuple[str, str | None, list[str]]]:
    """Join the open incident unless triage found an unrelated cause; otherwise act on the
    report. The report comes back with the rationale of what was done."""
    split = unrelated_cause(uow, joining, report) if joining is not None else None
    if joining is not None and split is None:
        joined = join_triaged(uow, now, alert, report, joining, rule)
        return joined, ("correlated", joining, [])
    reason = split or opened_new_because(_scope(alert, rule, _graph(uow)), alert)
    if alert.status is AlertStatus.RESOLVED:
        reason = "opened new: the alert had resolved before triage, so it joined no incident"
    report = with_reason(report, reason) if report.is_incident else report
    return report, apply_report(uow, now, alert, report, rule, commander)


def apply_report(
    uow: UnitOfWork,
    now: datetime,
    alert: Alert,
    report: TriageReport,
    rule: CorrelationRule,
    commander: CommanderAgent | None = None,
) -> tuple[str, str | None, list[str]]:
    """Act on the triage decision: an incident (SEV0-3), a ticket (SEV4), or close.
    Returns the alert's triage state, the incident opened and the alerts attached to it."""
    if not report.is_incident:
        reason = "; ".join(report.rationale) or "triage: not an incident"
        uow.alerts.close(alert.id, now, reason[:1000])
        return "closed", None, []
    if report.escalation is Escalation.TICKET:
        uow.action_items.add_ticket(alert.id, f"SEV4: {alert.summary}"[:500], "low", now)
        return "ticket", None, []
    incident = _declare_from(uow, now, alert, report)
    window_start = now - rule.window
    nearby = uow.alerts.recent(sorted(_scope(alert, rule, _graph(uow))), window_start)
    related = [a for a in nearby if a.incident_id is None and a.status.is_open and a.id != alert.id]
    join_incident(uow, now, [alert, *related], incident.id, rule, announce=False)
    if commander is not None:  # runbook Phase 2 follows at once: war room, commander, comms
        findings = report.for_incident(incident.id).as_json()
        declare_after_triage(uow, now, TRIAGE_ACTOR, commander, incident, findings)
    return "incident", incident.id, [a.id for a in related]


def _declare_from(uow: UnitOfWork, now: datetime, alert: Alert, report: TriageReport) -> Incident:
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
    )
    incident = declare(uow, TRIAGE_ACTOR, now, new, min(alert.first_seen_at, now))
    data = report.for_incident(incident.id).as_json()
    note(uow, TRIAGE_ACTOR, now, incident.id, EventKind.TRIAGE_REPORT, summary, data)
    return incident


def _active_rule(uow: UnitOfWork) -> CorrelationRule:
    return next((r for r in uow.intake.rules() if r.enabled), DEFAULT_RULE)


def _graph(uow: UnitOfWork) -> dict[str, list[str]]:
    return {s.name: s.dependencies for s in uow.catalog.all()}


def _scope(alert: Alert, rule: CorrelationRule, graph: dict[str, list[str]]) -> set[str]:
    """The services whose alerts this one may be grouped with."""
    return _scope_of(alert.service, rule, graph)


def _scope_of(service: str | None, rule: CorrelationRule, graph: dict[str, list[str]]) -> set[str]:
    if not service:
        return set()
    if not rule.follow_dependencies:
        return {service}
    return connected_services(service, graph)
