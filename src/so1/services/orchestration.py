"""Run an agent by name: record the run, let the agent decide, keep its report or its error."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from so1.domain.incidents import is_incident_id
from so1.domain.records import AgentRun, RunStatus
from so1.errors import NotFound, UnknownAgent
from so1.ports import Agent, Clock, UnitOfWorkFactory
from so1.services.access.clearance import require_read
from so1.services.declaration.flow import COMMANDER_AGENT, commander_request
from so1.services.incidents.recording import Actor, Change, record
from so1.services.mitigation.runs import DEPLOYER_AGENT, DeployerDeps, deployer_request
from so1.services.postmortem.drafting import POSTMORTEM_AGENT, postmortem_request
from so1.services.triage.requests import triage_request

TRIAGE_AGENT = "triage-responder"


def orchestrate(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    agents: Mapping[str, Agent],
    name: str,
    inputs: dict[str, Any],
    deployer: Callable[[], DeployerDeps] | None = None,
) -> AgentRun:
    """``deployer`` builds what a platform action needs (only called for railway-deployer)."""
    agent = agents.get(name)
    if agent is None:
        raise UnknownAgent(name, sorted(agents))
    if name == POSTMORTEM_AGENT:  # needs the whole incident record; keeps the draft
        return postmortem_request(uow_factory, clock, actor, agent, inputs)
    if name == DEPLOYER_AGENT and deployer is not None:  # acts on the platform, in the background
        return deployer_request(uow_factory, clock, actor, deployer(), inputs)
    if name == TRIAGE_AGENT:  # needs the alert store: take the alert in, triage, apply
        commander = agents.get(COMMANDER_AGENT)
        return triage_request(uow_factory, clock, actor, agent, inputs, commander)
    if name == COMMANDER_AGENT:  # needs the incident record: plan and apply the declaration
        return commander_request(uow_factory, clock, actor, agent, inputs)
    incident_id = inputs.get("incident_id")
    run = AgentRun(
        id=f"run_{secrets.token_hex(10)}",
        agent=name,
        status=RunStatus.RUNNING,
        inputs=inputs,
        started_at=clock.now(),
        actor=actor.name,
        incident_id=incident_id
        if isinstance(incident_id, str) and is_incident_id(incident_id)
        else None,
    )
    with uow_factory() as uow:
        uow.agent_runs.add(run)
        uow.commit()
    finished = _execute(agent, run, clock)
    with uow_factory() as uow:
        uow.agent_runs.update(finished)
        summary = f"agent {name} {finished.status}"
        detail = {"run_id": run.id, "status": finished.status.value}
        record(uow, actor, clock.now(), Change("agent.run", "agent_run", run.id, summary, detail))
        uow.commit()
    return finished


def _execute(agent: Agent, run: AgentRun, clock: Clock) -> AgentRun:
    try:
        output = agent.run(run.inputs)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        return replace(run, status=RunStatus.FAILED, error=error, finished_at=clock.now())
    return replace(run, status=RunStatus.COMPLETED, output=output, finished_at=clock.now())


def get_run(uow_factory: UnitOfWorkFactory, run_id: str, actor: Actor) -> AgentRun:
    """The run; one about a security incident does not exist for an actor without clearance
    (its output holds the war room's messages)."""
    with uow_factory(read_only=True) as uow:
        run = uow.agent_runs.get(run_id)
        try:
            require_read(uow, actor, run.incident_id if run else None)
        except NotFound:
            run = None
    if run is None:
        raise NotFound(f"agent run {run_id} does not exist")
    return run
