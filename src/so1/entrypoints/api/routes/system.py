"""Health, agent orchestration and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from so1 import __version__
from so1.domain.records import AgentRun
from so1.entrypoints.api.deps import Admin, ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import AuditOut, HealthOut, OrchestrateIn, RunOut
from so1.services import orchestration
from so1.services.access import keys as access
from so1.services.mitigation.runs import decide_approval

router = APIRouter()


@router.get("/v1/health", response_model=HealthOut, tags=["system"])
def health(container: ContainerDep) -> JSONResponse:
    checks = {name: check() for name, check in container.health_checks.items()}
    healthy = all(result == "ok" for result in checks.values())
    body = HealthOut(
        status="healthy" if healthy else "unhealthy", checks=checks, version=__version__
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


def _run_out(run: AgentRun) -> RunOut:
    values = asdict(run)
    values["run_id"] = values.pop("id")
    return RunOut(**values)


@router.post("/v1/orchestrate", response_model=RunOut, tags=["agents"])
def orchestrate(body: OrchestrateIn, container: ContainerDep, actor: Writer) -> RunOut:
    run = orchestration.orchestrate(
        container.uow,
        container.clock,
        actor,
        container.agents,
        body.agent,
        body.inputs,
        deployer=lambda: container.deployer,
    )
    container.wake_worker()  # a declaration queues messages and pages
    return _run_out(run)


@router.post("/v1/orchestrate/runs/{run_id}/approve", response_model=RunOut, tags=["agents"])
def approve_run(run_id: str, container: ContainerDep, actor: Writer) -> RunOut:
    """Approve a railway-deployer action that awaits approval (someone other than the requester,
    with the deploy scope); it runs at once."""
    decided = decide_approval(
        container.uow, container.clock, actor, container.deployer, run_id, True
    )
    return _run_out(decided)


@router.post("/v1/orchestrate/runs/{run_id}/decline", response_model=RunOut, tags=["agents"])
def decline_run(run_id: str, container: ContainerDep, actor: Writer) -> RunOut:
    decided = decide_approval(
        container.uow, container.clock, actor, container.deployer, run_id, False
    )
    return _run_out(decided)


@router.get("/v1/orchestrate/runs/{run_id}", response_model=RunOut, tags=["agents"])
def get_run(run_id: str, container: ContainerDep, actor: Reader) -> RunOut:
    return _run_out(orchestration.get_run(container.uow, run_id, actor))


@router.get("/v1/audit", response_model=list[AuditOut], tags=["system"])
def audit(
    container: ContainerDep,
    who: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> list[AuditOut]:
    records = access.audit_log(container.uow, who, limit, offset, actor=actor, action=action)
    return [AuditOut(**asdict(r)) for r in records]
