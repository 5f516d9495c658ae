"""The railway-deployer's runs: request a platform action, approve or decline it, and run
it through the Platform port in the background (deployer_exec.py).

A run is ``failed`` at once when the agent refuses (with the reason), ``awaiting_approval``
when the policy wants a human first, else ``running``. Every step is audited and, for an
incident, on its timeline, in the same transaction as the run's state.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from so1.domain.incidents import is_incident_id
from so1.domain.platform import FLAG_ACTIONS, PlatformAction
from so1.domain.records import AgentRun, RunStatus
from so1.errors import Conflict, Forbidden, NotFound, ValidationFailed
from so1.ports import Agent, Clock, Platform, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.incidents.recording import Actor, Change, record

DEPLOYER_AGENT = "railway-deployer"
SERVICE_NAME_MAX = 100

Background = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class DeployerDeps:
    """What running a platform action needs beyond the database."""

    agent: Agent
    platform: Platform
    background: Background  # runs the action off the request thread
    follow_timeout: float = 600.0  # seconds to follow a deployment before giving up
    poll_seconds: float = 2.0


def plan_inputs(
    uow_factory: UnitOfWorkFactory, deps: DeployerDeps, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The request checked, with the platform's current state as the agent's context."""
    action = _action(inputs)
    service = inputs.get("service")
    if not isinstance(service, str) or not 0 < len(service) <= SERVICE_NAME_MAX:
        raise ValidationFailed("'service' names the service to act on", field="inputs.service")
    severity = _severity(uow_factory, inputs.get("incident_id"))
    if action in FLAG_ACTIONS:
        flag = _flag_state(uow_factory, inputs.get("flag"))
        return {**inputs, "action": action.value, "context": {"severity": severity, "flag": flag}}
    found = deps.platform.deployments(service, 10)
    context: dict[str, Any] = {
        "severity": severity,
        "deployments": [_as_input(d) for d in found],
        "variables": deps.platform.variables(service)
        if action is PlatformAction.SET_VARIABLES
        else {},
    }
    return {**inputs, "action": action.value, "context": context}


def _action(inputs: Mapping[str, Any]) -> PlatformAction:
    try:
        return PlatformAction(str(inputs.get("action")))
    except ValueError:
        known = ", ".join(a.value for a in PlatformAction)
        raise ValidationFailed(f"'action' must be one of: {known}", field="inputs.action") from None


def _flag_state(uow_factory: UnitOfWorkFactory, key: object) -> dict[str, Any] | None:
    if not isinstance(key, str) or not key:
        raise ValidationFailed("'flag' names the feature flag to turn", field="inputs.flag")
    with uow_factory(read_only=True) as uow:
        flag = uow.flags.get(key)
    return {"enabled": flag.enabled, "service": flag.service} if flag else None


def _severity(uow_factory: UnitOfWorkFactory, incident_id: object) -> str | None:
    if incident_id is None:
        return None
    if not isinstance(incident_id, str) or not is_incident_id(incident_id):
        raise ValidationFailed("'incident_id' is INC-YYYYMMDD-NNNN", field="inputs.incident_id")
    with uow_factory(read_only=True) as uow:
        incident = uow.incidents.get(incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident.severity.value


def _as_input(deployment: Any) -> dict[str, Any]:
    return {
        "id": deployment.id,
        "version": deployment.version,
        "status": deployment.status,
        "created_at": deployment.created_at,
        "can_rollback": deployment.can_rollback,
        "can_redeploy": deployment.can_redeploy,
    }


def deployer_request(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    deps: DeployerDeps,
    inputs: Mapping[str, Any],
) -> AgentRun:
    if not actor.can_deploy:
        raise Forbidden("platform actions need a key with the 'deploy' scope")
    incident_id = inputs.get("incident_id")
    if isinstance(incident_id, str):
        with uow_factory(read_only=True) as uow:
            require_act(uow, actor, incident_id)
    full = plan_inputs(uow_factory, deps, inputs)
    plan = deps.agent.run(full)
    status = _first_status(plan)
    incident_id = full.get("incident_id")
    run = AgentRun(
        id=f"run_{secrets.token_hex(10)}",
        agent=DEPLOYER_AGENT,
        status=status,
        inputs={k: v for k, v in full.items() if k != "context"},
        started_at=clock.now(),
        actor=actor.name,
        output={"plan": plan, "requested_by": actor.holder},
        incident_id=incident_id,
        error=plan["refused"],
        finished_at=clock.now() if plan["refused"] else None,
    )
    with uow_factory() as uow:
        uow.agent_runs.add(run)
        record(uow, actor, clock.now(), _requested(run, plan))
        uow.commit()
    if status is RunStatus.RUNNING:
        _start(uow_factory, clock, actor, deps, run)
    return run


def _first_status(plan: Mapping[str, Any]) -> RunStatus:
    if plan["refused"]:
        return RunStatus.FAILED
    return RunStatus.AWAITING_APPROVAL if plan["needs_approval"] else RunStatus.RUNNING


def _requested(run: AgentRun, plan: Mapping[str, Any]) -> Change:
    steps = "; ".join(plan.get("steps") or [])
    if plan["refused"]:
        summary, kind = (
            f"{plan['action']} of {plan['service']} refused: {plan['refused']}",
            ("mitigation.refused"),
        )
    elif plan["needs_approval"]:
        summary = f"{plan['action']} of {plan['service']} awaits approval: {steps}"
        kind = "mitigation.awaiting_approval"
    else:
        summary, kind = (
            f"{plan['action']} of {plan['service']} started: {steps}",
            ("mitigation.started"),
        )
    detail = {"run_id": run.id, "plan": _jsonable(plan)}
    return Change(
        "platform.action.requested",
        "agent_run",
        run.id,
        summary,
        detail,
        run.incident_id,
        kind if run.incident_id else None,
    )


def _jsonable(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "context"}


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
        if run is None or run.agent != DEPLOYER_AGENT:
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
        summary = (
            f"{run.inputs.get('action')} of {run.inputs.get('service')} {word} by {actor.name}"
        )
        kind = f"mitigation.{word}" if run.incident_id else None
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
