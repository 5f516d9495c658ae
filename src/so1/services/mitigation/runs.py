"""The railway-deployer's runs: request a platform action, approve or decline it, and run
it through the Platform port in the background (execution.py).

A run is ``failed`` at once when the agent refuses (with the reason), ``awaiting_approval``
when the policy wants a human first, else ``running``. Every step is audited and, for an
incident, on its timeline, in the same transaction as the run's state.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from so1.agents.deployer.contract import DeployerInputs, DeployerPlan, DeployerRequest, FlagState
from so1.agents.registry import DeployerAgent
from so1.domain.platform import FLAG_ACTIONS, PlatformAction
from so1.domain.records import AgentName, AgentRun, RunStatus
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import Conflict, Forbidden, NotFound, ValidationFailed
from so1.ports import Clock, Platform, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.incidents.recording import Actor, Change, record

SERVICE_NAME_MAX = 100
DEPLOYMENTS_LOOKED_AT = 10

Background = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class DeployerDeps:
    """What running a platform action needs beyond the database."""

    agent: DeployerAgent
    platform: Platform
    background: Background  # runs the action off the request thread
    follow_timeout: float = 600.0  # seconds to follow a deployment before giving up
    poll_seconds: float = 2.0


def deployer_inputs(
    uow_factory: UnitOfWorkFactory, deps: DeployerDeps, request: DeployerRequest
) -> DeployerInputs:
    """The request with the platform's current state (or the flag's) around it."""
    severity = _severity(uow_factory, request.incident_id)
    if request.action in FLAG_ACTIONS:
        return DeployerInputs(request, severity, flag=_flag_state(uow_factory, request.flag))
    found = deps.platform.deployments(request.service, DEPLOYMENTS_LOOKED_AT)
    variables = (
        deps.platform.variables(request.service)
        if request.action is PlatformAction.SET_VARIABLES
        else {}
    )
    return DeployerInputs(request, severity, tuple(found), variables)


def _flag_state(uow_factory: UnitOfWorkFactory, key: str | None) -> FlagState | None:
    if not key:
        raise ValidationFailed("'flag' names the feature flag to turn", field="inputs.flag")
    with uow_factory(read_only=True) as uow:
        flag = uow.flags.get(key)
    return FlagState(flag.enabled, flag.service) if flag else None


def _severity(uow_factory: UnitOfWorkFactory, incident_id: str | None) -> Severity | None:
    if incident_id is None:
        return None
    with uow_factory(read_only=True) as uow:
        incident = uow.incidents.get(incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident.severity


def deployer_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    deps: DeployerDeps,
    request: DeployerRequest,
) -> AgentRun:
    if not actor.can_deploy:
        raise Forbidden("platform actions need a key with the 'deploy' scope")
    if request.incident_id is not None:
        with uow_factory(read_only=True) as uow:
            require_act(uow, actor, request.incident_id)
    plan = deps.agent.run(deployer_inputs(uow_factory, deps, request))
    status = _first_status(plan)
    run = AgentRun(
        id=f"run_{secrets.token_hex(10)}",
        agent=AgentName.DEPLOYER,
        status=status,
        inputs=request.to_json(),
        started_at=clock.now(),
        actor=actor.name,
        output={"plan": plan.to_json(), "requested_by": actor.holder},
        incident_id=request.incident_id,
        error=plan.refused,
        finished_at=clock.now() if plan.refused else None,
    )
    with uow_factory() as uow:
        uow.agent_runs.add(run)
        record(uow, actor, clock.now(), _requested(run, plan))
        uow.commit()
    if status is RunStatus.RUNNING:
        _start(uow_factory, clock, actor, deps, run)
    return run


def _first_status(plan: DeployerPlan) -> RunStatus:
    if plan.refused:
        return RunStatus.FAILED
    return RunStatus.AWAITING_APPROVAL if plan.needs_approval else RunStatus.RUNNING


def _requested(run: AgentRun, plan: DeployerPlan) -> Change:
    what = f"{plan.action} of {plan.service}"
    steps = "; ".join(plan.steps)
    if plan.refused:
        summary, kind = f"{what} refused: {plan.refused}", EventKind.MITIGATION_REFUSED
    elif plan.needs_approval:
        summary, kind = f"{what} awaits approval: {steps}", EventKind.MITIGATION_AWAITING_APPROVAL
    else:
        summary, kind = f"{what} started: {steps}", EventKind.MITIGATION_STARTED
    detail = {"run_id": run.id, "plan": plan.to_json()}
    return Change(
        "platform.action.requested",
        "agent_run",
        run.id,
        summary,
        detail,
        run.incident_id,
        kind if run.incident_id else None,
    )


def decide_approval(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    deps: DeployerDeps,
    run_id: str,
    approve: bool,
) -> AgentRun:
    """Approve (the action runs now) or decline a run that awaits approval. The requester
    cannot approve their own action."""
    if not actor.can_deploy:
        raise Forbidden("approving platform actions needs a key with the 'deploy' scope")
    with uow_factory() as uow:
        run = uow.agent_runs.get(run_id)
        if run is None or run.agent != AgentName.DEPLOYER:
            raise NotFound(f"railway-deployer run {run_id} does not exist")
        require_act(uow, actor, run.incident_id)
        if run.status is not RunStatus.AWAITING_APPROVAL:
            raise Conflict(f"run {run_id} is {run.status.value}, not awaiting approval")
        if approve and actor.holder == requester(run):
            raise Conflict(
                f"an action needs someone other than its requester ({requester(run)}) to approve"
                " it; the two-person rule compares the people keys belong to"
            )
        decided = _decided(run, actor, approve, clock)
        uow.agent_runs.update(decided)
        word = "approved" if approve else "declined"
        request = DeployerRequest.from_json(run.inputs)
        summary = f"{request.action} of {request.service} {word} by {actor.name}"
        outcome = EventKind.MITIGATION_APPROVED if approve else EventKind.MITIGATION_DECLINED
        kind = outcome if run.incident_id else None
        detail = {"run_id": run.id}
        change = Change(
            f"platform.action.{word}", "agent_run", run.id, summary, detail, run.incident_id, kind
        )
        record(uow, actor, clock.now(), change)
        uow.commit()
    if approve:
        _start(uow_factory, clock, actor, deps, decided)
    return decided


def requester(run: AgentRun) -> str:
    """The person who asked for the action (runs from before persons were kept: the key)."""
    return str((run.output or {}).get("requested_by") or run.actor)


def _decided(run: AgentRun, actor: Actor, approve: bool, clock: Clock) -> AgentRun:
    output = dict(run.output or {}) | {"approved_by" if approve else "declined_by": actor.name}
    if approve:
        return replace(run, status=RunStatus.RUNNING, output=output)
    return replace(
        run,
        status=RunStatus.FAILED,
        output=output,
        finished_at=clock.now(),
        error=f"declined by {actor.name}",
    )


def _start(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, deps: DeployerDeps, run: AgentRun
) -> None:
    from so1.services.mitigation.execution import execute

    def job() -> None:
        execute(uow_factory, clock, actor, deps, run.id)

    deps.background(job)
