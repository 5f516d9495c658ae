"""`POST /v1/orchestrate` with the triage-responder and the seed's exact inputs
(`alert_id`, `alert_source`, `alert_data`), validated at the HTTP edge into a
``TriageRequest``: the alert is taken in like any other, triaged at once with the decision
applied, and the stored run is returned."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from so1.agents.registry import CommanderAgent
from so1.agents.triage import TriageAgent
from so1.domain.alerts import Alert, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import DEFAULT_RULE, Delivery, DeliveryOutcome
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.incidents.recording import Actor
from so1.services.intake import deliveries as intake
from so1.services.triage.context import recorded, triage_inputs
from so1.services.triage.flow import process_alert


@dataclass(frozen=True, slots=True)
class TriageRequest:
    """The seed's request: the alert's id at its source, and the alert as an intake event
    (source ``events``, keyed by that id; the sender's name in the ``origin`` label)."""

    alert_id: str
    event: AlertEvent


def triage_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    agent: TriageAgent,
    request: TriageRequest,
    commander: CommanderAgent | None = None,
) -> AgentRun:
    alert = _known_alert(uow_factory, request.alert_id) or _take_in(uow_factory, clock, request)
    if process_alert(uow_factory, clock, agent, alert.id, commander) is not None:
        run = _run_of(uow_factory, alert.id)
        if run is not None:
            return run
    return _report_only(uow_factory, clock, actor, agent, alert.id)


def _run_of(uow_factory: UnitOfWorkFactory, alert_id: str) -> AgentRun | None:
    with uow_factory(read_only=True) as uow:
        run_id = uow.alerts.triage_run_id(alert_id)
        return uow.agent_runs.get(run_id) if run_id else None


def _report_only(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, agent: TriageAgent, alert_id: str
) -> AgentRun:
    """The alert was already handled (or joined an incident): report without acting again."""
    now = clock.now()
    with uow_factory() as uow:
        alert = uow.alerts.get(alert_id)
        assert alert is not None
        inputs = triage_inputs(uow, alert, now, DEFAULT_RULE.window)
        run = AgentRun(
            f"run_{secrets.token_hex(10)}",
            AgentName.TRIAGE,
            RunStatus.RUNNING,
            recorded(inputs),
            now,
            actor.name,
            incident_id=alert.incident_id,
        )
        try:
            output = agent.run(inputs).for_incident(alert.incident_id).as_json()
            run = replace(run, status=RunStatus.COMPLETED, output=output, finished_at=now)
        except Exception as exc:
            run = replace(
                run, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=now
            )
        uow.agent_runs.add(run)
        uow.commit()
    return run


def _known_alert(uow_factory: UnitOfWorkFactory, alert_id: str) -> Alert | None:
    with uow_factory(read_only=True) as uow:
        return uow.alerts.get(alert_id) or uow.alerts.find(AlertSource.EVENTS, alert_id)


def _take_in(uow_factory: UnitOfWorkFactory, clock: Clock, request: TriageRequest) -> Alert:
    delivery = Delivery(AlertSource.EVENTS, clock.now(), {}, b"", DeliveryOutcome.ACCEPTED)
    result = intake.ingest(uow_factory, clock, delivery, ParsedDelivery([request.event]))
    alert = result.results[0].alert
    assert alert is not None
    return alert
