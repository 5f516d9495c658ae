"""Run an agent by name: record the run, let the agent decide, keep its report or its error.

``HANDLERS`` is the registry: agent name → the use case that runs that agent on a request of
its own type (the HTTP edge validates the JSON into that type: entrypoints/api/agent_inputs.py).
An agent registered without a handler takes and returns JSON objects and runs as is.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from so1.agents.commander.contract import CommanderRequest
from so1.agents.deployer.contract import DeployerRequest
from so1.agents.postmortem.contract import PostmortemRequest
from so1.agents.registry import Agents
from so1.domain.incidents import is_incident_id
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.errors import NotFound, UnknownAgent
from so1.ports import Agent, Clock, UnitOfWorkFactory
from so1.services.access.clearance import require_read
from so1.services.declaration.flow import commander_request
from so1.services.incidents.recording import Actor, Change, record
from so1.services.mitigation.runs import DeployerDeps, deployer_request
from so1.services.postmortem.drafting import postmortem_request
from so1.services.postmortem.meeting import DEFAULT_HOURS
from so1.services.triage.requests import TriageRequest, triage_request

JsonInputs = Mapping[str, Any]  # what an agent without a typed contract is given
AgentRequest = TriageRequest | CommanderRequest | DeployerRequest | PostmortemRequest | JsonInputs
RequestT = TypeVar("RequestT")


@dataclass(frozen=True)
class OrchestrationDeps:
    """What running an agent needs; ``deployer`` builds what a platform action needs (only
    called for the railway-deployer, since it needs the platform configured)."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    agents: Agents
    deployer: Callable[[], DeployerDeps] | None = None
    meeting_hours: tuple[int, int] = DEFAULT_HOURS  # SO1_POSTMORTEM_MEETING_HOURS


Handler = Callable[[OrchestrationDeps, Actor, AgentRequest], AgentRun]


def orchestrate(
    deps: OrchestrationDeps, actor: Actor, name: str, request: AgentRequest
) -> AgentRun:
    if name not in deps.agents.names():
        raise UnknownAgent(name, deps.agents.names())
    handler = HANDLERS.get(name)
    if handler is not None:
        return handler(deps, actor, request)
    return _run_json_agent(deps, actor, deps.agents.by_name[name], _json(request))


def _typed(
    kind: type[RequestT], handle: Callable[[OrchestrationDeps, Actor, RequestT], AgentRun]
) -> Handler:
    """A handler that takes the request type its agent declares (the edge made it)."""

    def handler(deps: OrchestrationDeps, actor: Actor, request: AgentRequest) -> AgentRun:
        if not isinstance(request, kind):
            raise TypeError(f"{kind.__name__} expected, got {type(request).__name__}")
        return handle(deps, actor, request)

    return handler


def _commander(deps: OrchestrationDeps, actor: Actor, request: CommanderRequest) -> AgentRun:
    """Needs the incident record: plan and apply the declaration."""
    agent = deps.agents.commander
    if agent is None:
        raise UnknownAgent(AgentName.COMMANDER, deps.agents.names())
    return commander_request(deps.uow_factory, deps.clock, actor, agent, request)


def _deployer(deps: OrchestrationDeps, actor: Actor, request: DeployerRequest) -> AgentRun:
    """Acts on the platform, in the background."""
    if deps.deployer is None:
        raise NotFound("no platform is configured for the railway-deployer")
    platform = deps.deployer()
    return deployer_request(deps.uow_factory, deps.clock, actor, platform, request)


def _postmortem(deps: OrchestrationDeps, actor: Actor, request: PostmortemRequest) -> AgentRun:
    """Needs the whole incident record; keeps the draft."""
    agent = deps.agents.analyst
    if agent is None:
        raise UnknownAgent(AgentName.POSTMORTEM, deps.agents.names())
    return postmortem_request(
        deps.uow_factory, deps.clock, actor, agent, request, deps.meeting_hours
    )


def _triage(deps: OrchestrationDeps, actor: Actor, request: TriageRequest) -> AgentRun:
    """Needs the alert store: take the alert in, triage, apply (and declare)."""
    agent = deps.agents.triage
    if agent is None:
        raise UnknownAgent(AgentName.TRIAGE, deps.agents.names())
    commander = deps.agents.commander
    return triage_request(deps.uow_factory, deps.clock, actor, agent, request, commander)


HANDLERS: dict[str, Handler] = {
    AgentName.TRIAGE: _typed(TriageRequest, _triage),
    AgentName.COMMANDER: _typed(CommanderRequest, _commander),
    AgentName.DEPLOYER: _typed(DeployerRequest, _deployer),
    AgentName.POSTMORTEM: _typed(PostmortemRequest, _postmortem),
}


def _json(request: AgentRequest) -> JsonInputs:
    if isinstance(request, TriageRequest | CommanderRequest | DeployerRequest | PostmortemRequest):
        raise TypeError(f"JSON inputs expected, got {type(request).__name__}")
    return request


def _run_json_agent(
    deps: OrchestrationDeps, actor: Actor, agent: Agent, inputs: JsonInputs
) -> AgentRun:
    clock = deps.clock
    incident_id = inputs.get("incident_id")
    run = AgentRun(
        id=f"run_{secrets.token_hex(10)}",
        agent=agent.name,
        status=RunStatus.RUNNING,
        inputs=dict(inputs),
        started_at=clock.now(),
        actor=actor.name,
        incident_id=incident_id
        if isinstance(incident_id, str) and is_incident_id(incident_id)
        else None,
    )
    with deps.uow_factory() as uow:
        uow.agent_runs.add(run)
        uow.commit()
    finished = _execute(agent, run, clock)
    with deps.uow_factory() as uow:
        uow.agent_runs.update(finished)
        summary = f"agent {agent.name} {finished.status}"
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
