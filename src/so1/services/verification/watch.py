"""Acting on the runbook's gates after a mitigation (seed Phases 3-4), from the clocks job.

For each open incident whose last platform action finished well, judge the gates on the
service's metrics since then. Each outcome is recorded once per mitigation (runbook_alarms
decides, so several workers agree) with the numbers, and:
- effective → the incident moves to ``monitoring``;
- stable for the whole window → ``resolved``, with the mitigation as the resolution;
- ineffective → the leading hypothesis is marked rejected and the next one proposed with its
  strategies ("Try alternative hypothesis");
- new symptoms → undoing the mitigation is proposed ("Rollback mitigation, reassess");
- partial → the gates still failing are named ("Address remaining factors").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from so1.agents.deployer.contract import KeptPlan, Undo
from so1.agents.deployer.knowledge import playbook
from so1.domain.incidents import OPEN_STATUSES, Incident, IncidentStatus, TimelineEvent
from so1.domain.platform import FLAG_ACTIONS, PlatformAction
from so1.domain.timeline import EventKind
from so1.domain.verification import STABILITY, Outcome, Verdict
from so1.errors import So1Error
from so1.ports import Clock, IncidentFilter, MetricsSource, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.lifecycle import IncidentPatch, update_incident
from so1.services.incidents.recording import Actor, note
from so1.services.isolation import each, guarded
from so1.services.verification.gates import judge_incident

WATCH = Actor("so1-verification")
log = logging.getLogger("so1.verification")
WATCH_LIMIT = 500


def watch_mitigations(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: MetricsSource,
    stability: timedelta = STABILITY,
) -> int:
    """One pass; returns how many outcomes were recorded."""
    with uow_factory(read_only=True) as uow:
        found, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=WATCH_LIMIT))
        pending = [(i, m) for i in found if (m := _mitigation_of(uow, i)) is not None]

    def watch(item: tuple[Incident, TimelineEvent]) -> int:
        incident, mitigation = item
        try:
            return _watch(uow_factory, clock, source, incident, mitigation, stability)
        except So1Error as exc:  # metrics unavailable: try again on the next pass
            log.warning("cannot verify %s yet: %s", incident.id, exc.detail)
            return 0

    return each("verification", pending, lambda item: item[0].id, watch)


def _mitigation_of(uow: UnitOfWork, incident: Incident) -> TimelineEvent | None:
    """The last mitigation; None (logged) when the record cannot be read."""
    return guarded("verification", incident.id, lambda: _last_mitigation(uow, incident), None)


def _last_mitigation(uow: UnitOfWork, incident: Incident) -> TimelineEvent | None:
    if incident.service is None:
        return None
    done = uow.timeline.for_incident(incident.id, [EventKind.MITIGATION_FINISHED])
    return done[-1] if done else None


def _watch(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: MetricsSource,
    incident: Incident,
    mitigation: TimelineEvent,
    stability: timedelta,
) -> int:
    acted_at = mitigation.occurred_at
    verdict = judge_incident(uow_factory, clock, source, incident, acted_at, stability)
    if verdict.outcome in (Outcome.WAITING, Outcome.NO_DATA):
        return 0
    now = clock.now()
    with uow_factory() as uow:
        occurrence = int(acted_at.timestamp())
        if not uow.outbox.claim_alarm(incident.id, f"verify:{verdict.outcome}", occurrence, now):
            return 0
        _record(uow, incident, now, verdict, mitigation)
        uow.commit()
    _move(uow_factory, clock, incident, verdict, mitigation)
    return 1


def _record(
    uow: UnitOfWork,
    incident: Incident,
    now: datetime,
    verdict: Verdict,
    mitigation: TimelineEvent,
) -> None:
    gates = "; ".join(r.summary() for r in verdict.gates)
    data: dict[str, Any] = {
        "outcome": verdict.outcome.value,
        "reason": verdict.reason,
        "gates": [
            {
                "gate": r.gate.label,
                "metric": r.gate.metric,
                "latest": r.latest,
                "worst": r.worst,
                "passing": r.passing,
                "passing_since": r.passing_since.isoformat() if r.passing_since else None,
            }
            for r in verdict.gates
        ],
        "mitigation_run": mitigation.data.get("run_id"),
    }
    text = f"verification {verdict.outcome.value}: {verdict.reason} ({gates})"
    data |= _proposal(uow, incident, now, verdict, mitigation)
    if "proposal" in data:
        text += f". Proposed: {data['proposal']}"
    note(uow, WATCH, now, incident.id, EventKind.VERIFICATION_RESULT, text, data)


def _proposal(
    uow: UnitOfWork, incident: Incident, now: datetime, verdict: Verdict, mitigation: TimelineEvent
) -> dict[str, Any]:
    if verdict.outcome is Outcome.NEW_SYMPTOMS:
        undo = _plan(uow, mitigation).undo
        if undo:
            return {
                "proposal": f"undo the mitigation ({_describe(undo)}) and reassess",
                "undo": undo.to_json(),
            }
        return {"proposal": "reassess: the mitigation has no automatic undo"}
    if verdict.outcome is Outcome.INEFFECTIVE:
        return _next_hypothesis(uow, incident, now)
    return {}


def _describe(undo: Undo) -> str:
    if undo.action in FLAG_ACTIONS:
        state = "on" if undo.action is PlatformAction.FLAG_ENABLE else "off"
        return f"turn feature flag {undo.flag} {state}"
    if undo.action is PlatformAction.SET_VARIABLES:
        values = ", ".join(f"{k}={v}" for k, v in sorted((undo.variables or {}).items()))
        return f"set_variables {values}"
    return f"{undo.action} to {undo.target_version}"


def _plan(uow: UnitOfWork, mitigation: TimelineEvent) -> KeptPlan:
    run = uow.agent_runs.get(str(mitigation.data.get("run_id")))
    return KeptPlan.of_run(run.output if run else None)


def _next_hypothesis(uow: UnitOfWork, incident: Incident, now: datetime) -> dict[str, Any]:
    """Reject the leading hypothesis still standing and propose the one after it."""
    reports = uow.timeline.for_incident(incident.id, [EventKind.TRIAGE_REPORT])
    hypotheses = list((reports[-1].data.get("hypotheses") or []) if reports else [])
    rejected = {
        e.data.get("cause")
        for e in uow.timeline.for_incident(incident.id, [EventKind.HYPOTHESIS_REJECTED])
    }
    standing = [h for h in hypotheses if h.get("cause") not in rejected]
    if not standing:
        return {"proposal": "no hypothesis left from triage: investigate further"}
    leading = standing[0]
    text = f"hypothesis {leading.get('cause')} rejected: the mitigation did not move the metrics"
    cause = {"cause": leading.get("cause")}
    note(uow, WATCH, now, incident.id, EventKind.HYPOTHESIS_REJECTED, text, cause)
    if len(standing) < 2:
        return {
            "proposal": "no other hypothesis from triage: investigate further",
            "rejected": leading.get("cause"),
        }
    following = standing[1]
    strategies = [s.label for s in playbook().for_cause(str(following.get("cause")))]
    return {
        "rejected": leading.get("cause"),
        "next_hypothesis": following.get("cause"),
        "proposal": f"try hypothesis {following.get('cause')}"
        + (f" (strategies: {', '.join(strategies)})" if strategies else ""),
    }


def _move(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    incident: Incident,
    verdict: Verdict,
    mitigation: TimelineEvent,
) -> None:
    if verdict.outcome is Outcome.EFFECTIVE and incident.status is not IncidentStatus.MONITORING:
        update_incident(
            uow_factory, clock, WATCH, incident.id, IncidentPatch(status=IncidentStatus.MONITORING)
        )
    elif verdict.outcome is Outcome.STABLE:
        with uow_factory(read_only=True) as uow:
            steps = _plan(uow, mitigation).steps or (mitigation.summary,)
        resolution = f"{steps[0]}; {verdict.reason.replace('every gate has passed', 'stable')}"
        resolution += ", no recurrence"
        update_incident(
            uow_factory,
            clock,
            WATCH,
            incident.id,
            IncidentPatch(status=IncidentStatus.RESOLVED, resolution_summary=resolution),
        )
