"""railway-deployer: decides how to carry out a platform action (the runbook's "Apply
mitigation"), without I/O. Given the action and the platform's current state (deployments
newest first, the service's variables) it returns a plan: the target, pre-checks, steps,
post-checks, the undo, whether a human must approve, or why the action is refused.

The service layer (services/mitigation/runs.py) gathers the state, runs the plan through the
Platform port, audits it and follows the deployment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from so1.agents.deployer.knowledge import playbook
from so1.domain.platform import (
    FLAG_ACTIONS,
    IN_PROGRESS,
    PlatformAction,
    PlatformDeployment,
    rollback_target,
)
from so1.domain.severity import Severity

MAX_REPLICAS = 50
# The runbook strategy an action carries out, where the names differ; turning a flag back on
# is as low-risk as turning it off.
STRATEGY_OF = {
    PlatformAction.SCALE: "scale_up",
    PlatformAction.FLAG_ENABLE: "flag_disable",
}
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Plan = dict[str, Any]


class RailwayDeployer:
    name = "railway-deployer"

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        action = PlatformAction(inputs["action"])
        context: Mapping[str, Any] = inputs.get("context") or {}
        deployments: list[Mapping[str, Any]] = list(context.get("deployments") or [])
        plan: Plan = {
            "action": action.value,
            "service": inputs["service"],
            "current": _brief(deployments[0]) if deployments else None,
            "pre_checks": [],
            "refused": None,
        }
        _strategy(plan, action, context)
        if action not in FLAG_ACTIONS:  # a flag flip does not wait for a deployment
            _busy_check(plan, deployments)
        PLANNERS[action](plan, inputs, context, deployments)
        plan["post_checks"] = _post_checks(plan, inputs)
        return plan


def _strategy(plan: Plan, action: PlatformAction, context: Mapping[str, Any]) -> None:
    book = playbook()
    name = (
        "config_change"
        if action is PlatformAction.SET_VARIABLES
        else STRATEGY_OF.get(action, action.value)
    )
    strategy = book.strategies.get(name) or book.for_action(action.value)
    severity = Severity(context["severity"]) if context.get("severity") else None
    plan["strategy"] = strategy.name if strategy else action.value
    plan["risk"] = strategy.risk.value if strategy else "medium"
    plan["speed"] = strategy.speed if strategy else None
    why = book.approval.needs_approval(strategy, severity) if strategy else None
    plan["needs_approval"] = why is not None
    plan["approval_reason"] = why


def _check(plan: Plan, name: str, ok: bool, detail: str) -> None:
    plan["pre_checks"].append({"check": name, "ok": ok, "detail": detail})
    if not ok and plan["refused"] is None:
        plan["refused"] = detail


def _busy_check(plan: Plan, deployments: list[Mapping[str, Any]]) -> None:
    busy = next((d for d in deployments if d.get("status") in IN_PROGRESS), None)
    detail = (
        f"deployment {busy['id']} is {busy['status']}; wait for it to finish"
        if busy
        else "no deployment in progress"
    )
    _check(plan, "no deployment in progress", busy is None, detail)


def _plan_rollback(
    plan: Plan, inputs: Mapping[str, Any], _: Mapping[str, Any], deps: list[Mapping[str, Any]]
) -> None:
    wanted = str(inputs.get("target_version") or "previous")
    found = rollback_target([_deployment(plan["service"], d) for d in deps], wanted)
    target = next((d for d in deps if found and d["id"] == found.id), None)
    current = deps[0] if deps else None
    if target is None:
        detail = (
            "no earlier deployment that ran well and can be rolled back to"
            if wanted == "previous"
            else f"deployment '{wanted}' does not exist or cannot be rolled back to"
        )
        _check(plan, "rollback target", False, detail)
        return
    _check(plan, "rollback target", True, f"{_name(target)} (canRollback)")
    plan["target"] = _brief(target)
    plan["steps"] = [
        f"Roll back {plan['service']} from {_name(current)} to {_name(target)}",
        "Wait for the new deployment to finish; follow its logs",
    ]
    plan["undo"] = {"action": "rollback", "target_version": current["id"]} if current else None


def _plan_restart(
    plan: Plan, _: Mapping[str, Any], __: Mapping[str, Any], deps: list[Mapping[str, Any]]
) -> None:
    current = deps[0] if deps else None
    state = f"{_name(current)} is {current['status']}" if current else "no deployment yet"
    _check(plan, "a deployment to restart", current is not None, state)
    plan["target"] = _brief(current) if current else None
    plan["steps"] = [
        f"Restart {plan['service']} ({_name(current)})",
        "Wait for it to run again; follow its logs",
    ]
    plan["undo"] = None  # a restart cannot be undone


def _plan_redeploy(
    plan: Plan, inputs: Mapping[str, Any], c: Mapping[str, Any], deps: list[Mapping[str, Any]]
) -> None:
    _plan_restart(plan, inputs, c, deps)
    plan["steps"][0] = (
        f"Redeploy {plan['service']} from the build of {_name(deps[0]) if deps else '-'}"
    )


def _plan_variables(
    plan: Plan, inputs: Mapping[str, Any], context: Mapping[str, Any], _: list[Mapping[str, Any]]
) -> None:
    wanted: Mapping[str, Any] = inputs.get("variables") or {}
    bad = [n for n, v in wanted.items() if not VARIABLE_NAME.match(n) or not isinstance(v, str)]
    ok = bool(wanted) and not bad
    if not wanted:
        detail = "no variables given"
    else:
        detail = f"not a NAME=string variable: {bad[0]}" if bad else ", ".join(sorted(wanted))
    _check(plan, "variables", ok, detail)
    current: Mapping[str, str] = context.get("variables") or {}
    plan["variables"] = dict(wanted)
    plan["previous_variables"] = {n: current.get(n) for n in wanted}
    plan["apply"] = bool(inputs.get("apply", True))
    changes = ", ".join(f"{n}={current.get(n, '(unset)')}→{v}" for n, v in sorted(wanted.items()))
    plan["steps"] = [f"Set {changes} on {plan['service']}"]
    if plan["apply"]:
        plan["steps"].append("Redeploy so the new values take effect; follow its logs")
    restore = {n: v for n, v in plan["previous_variables"].items() if v is not None}
    plan["undo"] = {"action": "set_variables", "variables": restore} if restore else None


def _plan_scale(
    plan: Plan, inputs: Mapping[str, Any], _: Mapping[str, Any], __: list[Mapping[str, Any]]
) -> None:
    replicas = inputs.get("replicas")
    ok = isinstance(replicas, int) and 1 <= replicas <= MAX_REPLICAS
    _check(
        plan,
        "replicas",
        ok,
        f"{replicas} replicas"
        if ok
        else f"replicas must be a whole number from 1 to {MAX_REPLICAS}",
    )
    plan["replicas"] = replicas
    plan["steps"] = [f"Scale {plan['service']} to {replicas} replicas"]
    plan["undo"] = None  # the platform does not tell the replica count it had


def _plan_flag(
    plan: Plan, inputs: Mapping[str, Any], context: Mapping[str, Any], _: list[Mapping[str, Any]]
) -> None:
    """Turn a feature flag off (or back on): it must exist, be in the other state, and belong
    to the service acted on when it names one."""
    key = str(inputs.get("flag") or "")
    wanted = plan["action"] == PlatformAction.FLAG_ENABLE
    flag: Mapping[str, Any] | None = context.get("flag")
    word = "on" if wanted else "off"
    plan["flag"], plan["enabled"] = key, wanted
    plan["target"] = {"id": key, "enabled": flag.get("enabled") if flag else None}
    if not flag:
        _check(plan, "flag", False, f"feature flag '{key}' does not exist")
        return
    owner = flag.get("service")
    belongs = owner in (None, plan["service"])
    _check(plan, "flag", belongs, f"'{key}' belongs to {owner}" if not belongs else key)
    _check(
        plan,
        f"flag is {'off' if wanted else 'on'}",
        flag["enabled"] != wanted,
        f"'{key}' is {'on' if flag['enabled'] else 'off'}",
    )
    plan["steps"] = [
        f"Turn feature flag {key} {word} for {plan['service']}",
        "OpenFeature clients see it on their next evaluation (OFREP)",
    ]
    undo = PlatformAction.FLAG_DISABLE if wanted else PlatformAction.FLAG_ENABLE
    plan["undo"] = {"action": undo.value, "flag": key}


def _post_checks(plan: Plan, inputs: Mapping[str, Any]) -> list[str]:
    if plan["action"] in FLAG_ACTIONS:
        checks = [f"OFREP evaluates {plan['flag']} to {str(plan['enabled']).lower()}"]
    elif plan["action"] != "scale":
        checks = ["the new deployment reaches SUCCESS"]
    else:
        checks = []
    incident = inputs.get("incident_id")
    if incident:
        checks.append(
            f"error rate < 1% within 5 minutes, p99 < 500 ms"
            f" (GET /v1/incidents/{incident}/verification)"
        )
    return checks


def _deployment(service: str, given: Mapping[str, Any]) -> PlatformDeployment:
    return PlatformDeployment(
        id=str(given["id"]),
        service=service,
        status=str(given["status"]),
        created_at=given["created_at"],
        version=given.get("version"),
        can_rollback=bool(given.get("can_rollback")),
        can_redeploy=bool(given.get("can_redeploy")),
    )


def _brief(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return {k: deployment.get(k) for k in ("id", "version", "status")}


def _name(deployment: Mapping[str, Any] | None) -> str:
    if deployment is None:
        return "-"
    version = deployment.get("version")
    return f"{version} ({deployment['id']})" if version else str(deployment["id"])


PLANNERS = {
    PlatformAction.ROLLBACK: _plan_rollback,
    PlatformAction.RESTART: _plan_restart,
    PlatformAction.REDEPLOY: _plan_redeploy,
    PlatformAction.SET_VARIABLES: _plan_variables,
    PlatformAction.SCALE: _plan_scale,
    PlatformAction.FLAG_DISABLE: _plan_flag,
    PlatformAction.FLAG_ENABLE: _plan_flag,
}
