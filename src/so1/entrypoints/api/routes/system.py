"""Health, agent orchestration and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.engine import URL

from so1 import __version__
from so1.adapters.db import migrate
from so1.domain.records import AgentRun
from so1.entrypoints.api.admin_schemas import (
    BackgroundOut,
    DatabaseOut,
    JobOut,
    QueueOut,
    SystemOut,
)
from so1.entrypoints.api.agent_inputs import parse_inputs
from so1.entrypoints.api.deps import Admin, ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import AuditOut, HealthOut, OrchestrateIn, RunOut
from so1.errors import UnknownAgent
from so1.services import orchestration, worker_health
from so1.services.access import keys as access
from so1.services.mitigation.runs import decide_approval

router = APIRouter()


@router.get("/v1/health", response_model=HealthOut, tags=["system"])
def health(container: ContainerDep) -> JSONResponse:
    checks = {name: check() for name, check in container.edge.health_checks.items()}
    healthy = all(result == "ok" or result.startswith("ok ") for result in checks.values())
    body = HealthOut(
        status="healthy" if healthy else "unhealthy", checks=checks, version=__version__
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get("/v1/system", response_model=SystemOut, tags=["system"])
def system(container: ContainerDep, _: Admin) -> SystemOut:
    """What `so1 status` shows: the version, the database this server uses (no password), and
    how the background work fares: the jobs this process runs and the queues they empty."""
    engine = container.engine
    database = DatabaseOut(
        url=_database_url(engine.url),
        dialect=engine.dialect.name,
        revision=migrate.current_revision(engine),
        latest_revision=migrate.head_revision(),
    )
    runner = container.jobs.dispatcher.runner
    states = runner.states() if runner is not None else []
    health = worker_health.worker_health(container.uow, container.clock, states)
    background = BackgroundOut(
        setting=container.settings.background,
        engine=container.jobs.engine,
        jobs=[JobOut(**asdict(job)) for job in health.jobs],
        queues={name: QueueOut(**asdict(q)) for name, q in health.queues.items()},
        problems=health.problems,
    )
    return SystemOut(version=__version__, database=database, background=background)


def _database_url(url: URL) -> str:
    """The URL without its password; a SQLite file by its absolute path (seen from elsewhere,
    ./so1.db says nothing)."""
    name = url.database
    if url.get_backend_name() == "sqlite" and name and not name.startswith((":", "file:")):
        url = url.set(database=str(Path(name).absolute()))
    return url.render_as_string(hide_password=True)


def _run_out(run: AgentRun) -> RunOut:
    values = asdict(run)
    values["run_id"] = values.pop("id")
    values["already_declared"] = bool((run.output or {}).get("already_declared"))
    return RunOut(**values)


@router.post("/v1/orchestrate", response_model=RunOut, tags=["agents"])
def orchestrate(body: OrchestrateIn, container: ContainerDep, actor: Writer) -> RunOut:
    deps = orchestration.OrchestrationDeps(
        container.uow,
        container.clock,
        container.agents,
        lambda: container.deployer,
        container.settings.meeting_hours,
    )
    if body.agent not in container.agents.names():
        raise UnknownAgent(body.agent, container.agents.names())
    request = parse_inputs(body.agent, body.inputs)
    run = orchestration.orchestrate(deps, actor, body.agent, request)
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
