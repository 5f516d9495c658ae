"""`POST /v1/orchestrate` with the triage-responder and the seed's exact inputs
(`alert_id`, `alert_source`, `alert_data`): the alert is taken in like any other, triaged at
once with the decision applied, and the stored run is returned."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from so1.agents.registry import CommanderAgent
from so1.domain.alerts import Alert, AlertAction, AlertEvent, AlertSource, ParsedDelivery
from so1.domain.intake import DEFAULT_RULE, Delivery, DeliveryOutcome
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.errors import ValidationFailed
from so1.ports import Agent, Clock, UnitOfWorkFactory
from so1.services.incidents.recording import Actor
from so1.services.intake import deliveries as intake
from so1.services.triage.context import triage_inputs
from so1.services.triage.flow import process_alert


def triage_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    agent: Agent,
    inputs: Mapping[str, Any],
    commander: CommanderAgent | None = None,
) -> AgentRun:
    alert = _known_alert(uow_factory, inputs) or _take_in(uow_factory, clock, inputs)
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
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, agent: Agent, alert_id: str
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
            inputs,
            now,
            actor.name,
            incident_id=alert.incident_id,
        )
        try:
            output = {**agent.run(inputs), "incident_id": alert.incident_id}
            run = replace(run, status=RunStatus.COMPLETED, output=output, finished_at=now)
        except Exception as exc:
            run = replace(
                run, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=now
            )
        uow.agent_runs.add(run)
        uow.commit()
    return run


_MEASURE = ("metric", "current_value", "threshold")


def _known_alert(uow_factory: UnitOfWorkFactory, inputs: Mapping[str, Any]) -> Alert | None:
    alert_id = inputs.get("alert_id")
    if not isinstance(alert_id, str):
        raise ValidationFailed("inputs.alert_id must be a string", "inputs.alert_id")
    with uow_factory(read_only=True) as uow:
        return uow.alerts.get(alert_id) or uow.alerts.find(AlertSource.EVENTS, alert_id)


def _take_in(uow_factory: UnitOfWorkFactory, clock: Clock, inputs: Mapping[str, Any]) -> Alert:
    data = inputs.get("alert_data")
    if not isinstance(data, dict) or not isinstance(data.get("service"), str):
        raise ValidationFailed("inputs.alert_data.service is required", "inputs.alert_data")
    source = str(inputs.get("alert_source") or "orchestrate")
    metric, value, threshold = (data.get(k) for k in _MEASURE)
    summary = (
        data.get("summary") or f"{metric} {value} (threshold {threshold}) on {data['service']}"
    )
    event = AlertEvent(
        source=AlertSource.EVENTS,
        action=AlertAction.TRIGGER,
        dedup_key=str(inputs["alert_id"]),
        summary=str(summary)[:1024],
        service=data["service"],
        metric=None if metric is None else str(metric),
        current_value=None if value is None else str(value),
        threshold=None if threshold is None else str(threshold),
        labels={"origin": source},
        details={k: v for k, v in data.items() if k not in (*_MEASURE, "service", "summary")},
    )
    delivery = Delivery(AlertSource.EVENTS, clock.now(), {}, b"", DeliveryOutcome.ACCEPTED)
    result = intake.ingest(uow_factory, clock, delivery, ParsedDelivery([event]))
    alert = result.results[0].alert
    assert alert is not None
    return alert
