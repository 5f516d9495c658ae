"""railway-deployer: decides how to carry out a platform action (the runbook's "Apply
mitigation"), without I/O. Given the request and the platform's current state (deployments
newest first, the service's variables, the flag) it returns a plan: the target, pre-checks,
steps, post-checks, the undo, whether a human must approve, or why the action is refused.

The service layer (services/mitigation/runs.py) gathers the state, runs the plan through the
Platform port, audits it and follows the deployment.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from so1.agents.deployer.contract import (
    Check,
    DeployerInputs,
    DeployerPlan,
    DeployerRequest,
    DeploymentBrief,
    DeploymentSteps,
    FlagSteps,
    FlagTarget,
    ScaleSteps,
    Steps,
    Undo,
    VariableSteps,
)
from so1.agents.deployer.knowledge import playbook
from so1.domain.mitigation import Risk
from so1.domain.platform import (
    FLAG_ACTIONS,
    IN_PROGRESS,
    PlatformAction,
    PlatformDeployment,
    rollback_target,
)

MAX_REPLICAS = 50
# The runbook strategy an action carries out, where the names differ; turning a flag back on
# is as low-risk as turning it off.
STRATEGY_OF = {
    PlatformAction.SCALE: "scale_up",
    PlatformAction.FLAG_ENABLE: "flag_disable",
}
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Planned = tuple[Steps | None, list[Check]]


class RailwayDeployer:
    name = "railway-deployer"

    def run(self, inputs: DeployerInputs) -> DeployerPlan:
        request, deployments = inputs.request, inputs.deployments
        checks = [] if request.action in FLAG_ACTIONS else [_busy_check(deployments)]
        planned, more = PLANNERS[request.action](request, inputs)
        checks += more
        strategy, risk, speed, approval = _strategy(inputs)
        return DeployerPlan(
            action=request.action,
            service=request.service,
            current=DeploymentBrief.of(deployments[0]) if deployments else None,
            pre_checks=tuple(checks),
            refused=next((c.detail for c in checks if not c.ok), None),
            strategy=strategy,
            risk=risk,
            speed=speed,
            needs_approval=approval is not None,
            approval_reason=approval,
            planned=planned,
            post_checks=_post_checks(request),
        )


def _strategy(inputs: DeployerInputs) -> tuple[str, Risk, str | None, str | None]:
    """The runbook strategy carried out, its risk and speed, and why it needs an approval."""
    book, action = playbook(), inputs.request.action
    name = (
        "config_change"
        if action is PlatformAction.SET_VARIABLES
        else STRATEGY_OF.get(action, action.value)
    )
    strategy = book.strategies.get(name) or book.for_action(action.value)
    if strategy is None:
        return action.value, Risk.MEDIUM, None, None
    why = book.approval.needs_approval(strategy, inputs.severity)
    return strategy.name, strategy.risk, strategy.speed, why


def _busy_check(deployments: tuple[PlatformDeployment, ...]) -> Check:
    busy = next((d for d in deployments if d.status in IN_PROGRESS), None)
    detail = (
        f"deployment {busy.id} is {busy.status}; wait for it to finish"
        if busy
        else "no deployment in progress"
    )
    return Check("no deployment in progress", busy is None, detail)


def _plan_rollback(request: DeployerRequest, inputs: DeployerInputs) -> Planned:
    wanted = request.target_version or "previous"
    deployments = inputs.deployments
    target = rollback_target(list(deployments), wanted)
    current = deployments[0] if deployments else None
    if target is None:
        detail = (
            "no earlier deployment that ran well and can be rolled back to"
            if wanted == "previous"
            else f"deployment '{wanted}' does not exist or cannot be rolled back to"
        )
        return None, [Check("rollback target", False, detail)]
    steps = (
        f"Roll back {request.service} from {_name(current)} to {_name(target)}",
        "Wait for the new deployment to finish; follow its logs",
    )
    undo = Undo(PlatformAction.ROLLBACK, target_version=current.id) if current else None
    check = Check("rollback target", True, f"{_name(target)} (canRollback)")
    return DeploymentSteps(DeploymentBrief.of(target), steps, undo), [check]


def _plan_restart(request: DeployerRequest, inputs: DeployerInputs) -> Planned:
    current = inputs.deployments[0] if inputs.deployments else None
    state = f"{_name(current)} is {current.status}" if current else "no deployment yet"
    steps = (
        f"Restart {request.service} ({_name(current)})",
        "Wait for it to run again; follow its logs",
    )
    target = DeploymentBrief.of(current) if current else None
    # a restart cannot be undone
    planned = DeploymentSteps(target, steps, None)
    return planned, [Check("a deployment to restart", current is not None, state)]


def _plan_redeploy(request: DeployerRequest, inputs: DeployerInputs) -> Planned:
    restart, checks = _plan_restart(request, inputs)
    assert isinstance(restart, DeploymentSteps)
    current = inputs.deployments[0] if inputs.deployments else None
    first = f"Redeploy {request.service} from the build of {_name(current)}"
    return DeploymentSteps(restart.target, (first, *restart.steps[1:]), None), checks


def _plan_variables(request: DeployerRequest, inputs: DeployerInputs) -> Planned:
    wanted = dict(request.variables or {})
    bad = [name for name in wanted if not VARIABLE_NAME.match(name)]
    if not wanted:
        detail = "no variables given"
    else:
        detail = f"not a NAME=string variable: {bad[0]}" if bad else ", ".join(sorted(wanted))
    check = Check("variables", bool(wanted) and not bad, detail)
    current = inputs.variables
    previous = {name: current.get(name) for name in wanted}
    apply = request.apply is not False
    changes = ", ".join(f"{n}={current.get(n, '(unset)')}→{v}" for n, v in sorted(wanted.items()))
    steps = [f"Set {changes} on {request.service}"]
    if apply:
        steps.append("Redeploy so the new values take effect; follow its logs")
    restore = {name: value for name, value in previous.items() if value is not None}
    undo = Undo(PlatformAction.SET_VARIABLES, variables=restore) if restore else None
    return VariableSteps(wanted, previous, apply, tuple(steps), undo), [check]


def _plan_scale(request: DeployerRequest, _: DeployerInputs) -> Planned:
    replicas = request.replicas
    ok = replicas is not None and 1 <= replicas <= MAX_REPLICAS
    detail = (
        f"{replicas} replicas"
        if ok
        else f"replicas must be a whole number from 1 to {MAX_REPLICAS}"
    )
    steps = (f"Scale {request.service} to {replicas} replicas",)
    return ScaleSteps(replicas, steps), [Check("replicas", ok, detail)]


def _plan_flag(request: DeployerRequest, inputs: DeployerInputs) -> Planned:
    """Turn a feature flag off (or back on): it must exist, be in the other state, and belong
    to the service acted on when it names one."""
    key, flag = request.flag or "", inputs.flag
    wanted = request.action is PlatformAction.FLAG_ENABLE
    target = FlagTarget(key, flag.enabled if flag else None)
    if flag is None:
        return FlagSteps(key, wanted, target, None), [
            Check("flag", False, f"feature flag '{key}' does not exist")
        ]
    owner = flag.service
    belongs = owner in (None, request.service)
    checks = [
        Check("flag", belongs, f"'{key}' belongs to {owner}" if not belongs else key),
        Check(
            f"flag is {'off' if wanted else 'on'}",
            flag.enabled != wanted,
            f"'{key}' is {'on' if flag.enabled else 'off'}",
        ),
    ]
    steps = (
        f"Turn feature flag {key} {'on' if wanted else 'off'} for {request.service}",
        "OpenFeature clients see it on their next evaluation (OFREP)",
    )
    undo = PlatformAction.FLAG_DISABLE if wanted else PlatformAction.FLAG_ENABLE
    return FlagSteps(key, wanted, target, steps, Undo(undo, flag=key)), checks


def _post_checks(request: DeployerRequest) -> tuple[str, ...]:
    if request.action in FLAG_ACTIONS:
        wanted = request.action is PlatformAction.FLAG_ENABLE
        checks = [f"OFREP evaluates {request.flag or ''} to {str(wanted).lower()}"]
    elif request.action is not PlatformAction.SCALE:
        checks = ["the new deployment reaches SUCCESS"]
    else:
        checks = []
    if request.incident_id:
        checks.append(
            f"error rate < 1% within 5 minutes, p99 < 500 ms"
            f" (GET /v1/incidents/{request.incident_id}/verification)"
        )
    return tuple(checks)


def _name(deployment: PlatformDeployment | None) -> str:
    if deployment is None:
        return "-"
    return f"{deployment.version} ({deployment.id})" if deployment.version else deployment.id


PLANNERS: dict[PlatformAction, Callable[[DeployerRequest, DeployerInputs], Planned]] = {
    PlatformAction.ROLLBACK: _plan_rollback,
    PlatformAction.RESTART: _plan_restart,
    PlatformAction.REDEPLOY: _plan_redeploy,
    PlatformAction.SET_VARIABLES: _plan_variables,
    PlatformAction.SCALE: _plan_scale,
    PlatformAction.FLAG_DISABLE: _plan_flag,
    PlatformAction.FLAG_ENABLE: _plan_flag,
}
