"""Runs an approved railway-deployer plan through the Platform port: re-plans on fresh state
(refusing when the platform changed since the plan), acts, follows the new deployment with
progress on the timeline ("Wait for deployment", "railway logs --follow"), keeps the last log
lines in the run, and audits the outcome."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from so1.agents.deployer.contract import (
    DeployerPlan,
    DeployerRequest,
    FlagSteps,
    KeptPlan,
    ScaleSteps,
    VariableSteps,
)
from so1.domain.changes import Deployment
from so1.domain.ofrep import evaluation
from so1.domain.platform import PlatformAction, PlatformDeployment
from so1.domain.records import AgentRun, RunStatus
from so1.domain.timeline import EventKind
from so1.errors import So1Error, Unavailable
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record
from so1.services.mitigation.changes import get_flag, set_flag
from so1.services.mitigation.runs import DeployerDeps, deployer_inputs

LOG_LINES = 20
ROLLOUT_CONFIG_LOOKBACK = timedelta(days=365)  # where the last recorded config is looked for
log = logging.getLogger("so1.deployer")


def execute(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, deps: DeployerDeps, run_id: str
) -> AgentRun:
    with uow_factory(read_only=True) as uow:
        run = uow.agent_runs.get(run_id)
    assert run is not None, run_id
    try:
        result = _carry_out(uow_factory, clock, actor, deps, run)
    except So1Error as exc:
        return _finish(uow_factory, clock, actor, run, None, exc.detail)
    except Exception as exc:  # a bug must still end the run, not leave it "running"
        log.exception("railway-deployer run %s failed", run_id)
        return _finish(uow_factory, clock, actor, run, None, f"{type(exc).__name__}: {exc}")
    return _finish(uow_factory, clock, actor, run, result, result.get("failure"))


def _carry_out(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, deps: DeployerDeps, run: AgentRun
) -> dict[str, Any]:
    approved = KeptPlan.of_run(run.output).target_id
    request = DeployerRequest.from_json(run.inputs)
    plan = deps.agent.run(deployer_inputs(uow_factory, deps, request))
    if plan.refused:
        return {"failure": f"refused on fresh state: {plan.refused}"}
    if plan.target_id != approved:
        return {"failure": "the platform changed since the plan was made; request it again"}
    service = plan.service
    if isinstance(plan.planned, FlagSteps):
        return _flip(uow_factory, clock, actor, run, plan.planned)
    new_id = _act(deps, plan)
    followed = new_id or plan.target_id
    if followed is None:
        return {"deployment": None}
    final = _follow(uow_factory, clock, actor, deps, run, service, followed)
    if new_id is not None:
        _record_rollout(uow_factory, clock, actor, deps.platform.name, run, plan, final)
    lines = deps.platform.logs(service, final.id, LOG_LINES)
    result: dict[str, Any] = {
        "deployment": {"id": final.id, "status": final.status, "version": final.version},
        "logs": [f"{line.at.isoformat()} {line.message}" for line in lines],
    }
    if final.status != "SUCCESS":
        result["failure"] = f"deployment {final.id} ended {final.status}"
    return result


def _record_rollout(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    platform: str,
    run: AgentRun,
    plan: DeployerPlan,
    final: PlatformDeployment,
) -> None:
    """A rollout SO1 made is a deployment like any other (``/v1/deployments/recent``)."""
    now = clock.now()
    why = f"{plan.action} by mitigation {run.id}" + (
        f" for {run.incident_id}" if run.incident_id else ""
    )
    with uow_factory() as uow:
        known = uow.deployments.recent(now - ROLLOUT_CONFIG_LOOKBACK, plan.service)
        deployment = Deployment(
            service=plan.service,
            version=final.version or final.id,
            deployed_at=now,
            deployed_by=actor.name,
            status="succeeded" if final.status == "SUCCESS" else "failed",
            platform=platform,
            platform_deployment_id=final.id,
            config=_rollout_config(plan, known),
            notes=why,
        )
        stored = uow.deployments.add(deployment)
        summary = f"{stored.service} {stored.version} deployed ({why})"
        detail = {"service": stored.service, "version": stored.version, "run_id": run.id}
        record(
            uow,
            actor,
            now,
            Change("deployment.record", "deployment", str(stored.id), summary, detail),
        )
        uow.commit()


def _rollout_config(plan: DeployerPlan, known: list[Deployment]) -> dict[str, Any]:
    """The last recorded config with the variables set; for a rollback, the config recorded
    with the deployment it went back to (none when SO1 never recorded it)."""
    if plan.action is PlatformAction.ROLLBACK:
        target = [d for d in known if d.platform_deployment_id == plan.target_id]
        return dict(target[0].config) if target else {}
    changed = dict(plan.planned.variables) if isinstance(plan.planned, VariableSteps) else {}
    return (dict(known[0].config) if known else {}) | changed


def _flip(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, run: AgentRun, flip: FlagSteps
) -> dict[str, Any]:
    """Turn the flag, then check what an OpenFeature client would be served now."""
    key, wanted = flip.flag, flip.enabled
    reason = f"mitigation {run.id}" + (f" for {run.incident_id}" if run.incident_id else "")
    set_flag(uow_factory, clock, actor, key, wanted, reason=reason, incident_id=run.incident_id)
    served = evaluation(get_flag(uow_factory, key))["value"]
    result: dict[str, Any] = {"flag": {"key": key, "served": served}}
    if served is not wanted:
        result["failure"] = f"OFREP still serves {key}={str(served).lower()}"
    return result


def _act(deps: DeployerDeps, plan: DeployerPlan) -> str | None:
    """Carry out a plan that passed its checks (so its target and current deployment exist)."""
    platform, service, planned = deps.platform, plan.service, plan.planned
    current = plan.current.id if plan.current else ""
    if plan.action is PlatformAction.ROLLBACK and plan.target_id is not None:
        return platform.rollback(service, plan.target_id)
    if plan.action is PlatformAction.REDEPLOY:
        return platform.redeploy(service, current)
    if plan.action is PlatformAction.RESTART:
        platform.restart(service, current)
        return None
    if isinstance(planned, VariableSteps):
        return platform.set_variables(service, planned.variables, planned.apply)
    if isinstance(planned, ScaleSteps) and planned.replicas is not None:
        platform.scale(service, planned.replicas)
        return None
    raise AssertionError(f"a {plan.action} plan without what it needs passed its checks")


def _follow(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    deps: DeployerDeps,
    run: AgentRun,
    service: str,
    deployment_id: str,
) -> PlatformDeployment:
    """Poll the deployment until it finishes, noting each status change on the timeline and
    keeping its latest log lines in the run as they come ("railway logs --follow")."""
    deadline = time.monotonic() + deps.follow_timeout
    seen: str | None = None
    while True:
        current = deps.platform.deployment(service, deployment_id)
        if current.status != seen:
            seen = current.status
            _progress(uow_factory, clock, actor, run, f"deployment {deployment_id}: {seen}")
        _stream_logs(uow_factory, deps, run, service, deployment_id, seen)
        if current.finished:
            return current
        if time.monotonic() >= deadline:
            waited = f"{deps.follow_timeout:.0f} s"
            raise Unavailable(f"deployment {deployment_id} still {seen} after {waited}")
        time.sleep(deps.poll_seconds)


def _stream_logs(
    uow_factory: UnitOfWorkFactory,
    deps: DeployerDeps,
    run: AgentRun,
    service: str,
    deployment_id: str,
    status: str | None,
) -> None:
    try:
        lines = deps.platform.logs(service, deployment_id, LOG_LINES)
    except So1Error:
        return  # logs are a nicety while following; the status decides
    live = {
        "deployment": deployment_id,
        "status": status,
        "logs": [f"{line.at.isoformat()} {line.message}" for line in lines],
    }
    with uow_factory() as uow:
        current = uow.agent_runs.get(run.id)
        if current is not None and current.status is RunStatus.RUNNING:
            uow.agent_runs.update(
                replace(current, output=dict(current.output or {}) | {"live": live})
            )
            uow.commit()


def _progress(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, run: AgentRun, text: str
) -> None:
    if run.incident_id is None:
        return
    with uow_factory() as uow:
        change = Change(
            "platform.action.progress",
            "agent_run",
            run.id,
            text,
            {"run_id": run.id},
            run.incident_id,
            EventKind.MITIGATION_PROGRESS,
        )
        record(uow, actor, clock.now(), change)
        uow.commit()


def _finish(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    run: AgentRun,
    result: dict[str, Any] | None,
    failure: str | None,
) -> AgentRun:
    status = RunStatus.FAILED if failure else RunStatus.COMPLETED
    request = DeployerRequest.from_json(run.inputs)
    action, service = request.action, request.service
    word = "failed" if failure else "finished"
    summary = f"{action} of {service} {word}" + (f": {failure}" if failure else "")
    detail = {"run_id": run.id, "ok": failure is None, "result": result}
    ended = EventKind.MITIGATION_FAILED if failure else EventKind.MITIGATION_FINISHED
    kind = ended if run.incident_id else None
    with uow_factory() as uow:
        latest = uow.agent_runs.get(run.id) or run  # with the log lines streamed meanwhile
        output = dict(latest.output or {}) | {"result": result}
        done = replace(latest, status=status, output=output, error=failure, finished_at=clock.now())
        uow.agent_runs.update(done)
        change = Change(
            f"platform.action.{'failed' if failure else 'done'}",
            "agent_run",
            run.id,
            summary,
            detail,
            run.incident_id,
            kind,
        )
        record(uow, actor, clock.now(), change)
        uow.commit()
    return done
