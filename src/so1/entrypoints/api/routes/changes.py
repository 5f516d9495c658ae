"""Routes for the service catalog, deployments and feature flags."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment
from so1.entrypoints.api.deps import ContainerDep, Deployer, Reader, Writer
from so1.entrypoints.api.schemas import (
    DeploymentIn,
    DeploymentOut,
    FlagChangeOut,
    FlagOut,
    FlagPatch,
    FlagPut,
    RecentDeployments,
    ServiceIn,
    ServiceOut,
)
from so1.services.mitigation import changes as svc

router = APIRouter(tags=["changes"])

NamePath = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]


@router.get("/v1/services", response_model=list[ServiceOut], tags=["catalog"])
def list_services(container: ContainerDep, _: Reader) -> list[ServiceOut]:
    return [ServiceOut(**asdict(s)) for s in svc.list_services(container.uow)]


@router.get("/v1/services/{name}", response_model=ServiceOut, tags=["catalog"])
def get_service(name: NamePath, container: ContainerDep, _: Reader) -> ServiceOut:
    return ServiceOut(**asdict(svc.get_service(container.uow, name)))


@router.put("/v1/services/{name}", response_model=ServiceOut, tags=["catalog"])
def put_service(
    name: NamePath, body: ServiceIn, container: ContainerDep, actor: Writer, response: Response
) -> ServiceOut:
    service = CatalogService(name=name, **body.model_dump())
    stored, created = svc.put_service(
        container.uow, container.clock, actor, service, container.adapters.url_guard
    )
    response.status_code = 201 if created else 200
    return ServiceOut(**asdict(stored))


@router.post("/v1/deployments", status_code=201, response_model=DeploymentOut, tags=["deployments"])
def record_deployment(
    body: DeploymentIn, container: ContainerDep, actor: Deployer
) -> DeploymentOut:
    values = body.model_dump()
    values["deployed_at"] = body.deployed_at or container.clock.now()
    stored = svc.record_deployment(container.uow, container.clock, actor, Deployment(**values))
    return DeploymentOut(**asdict(stored))


@router.get("/v1/deployments/recent", response_model=RecentDeployments, tags=["deployments"])
def recent_deployments(
    container: ContainerDep,
    _: Reader,
    hours: Annotated[float, Query(gt=0, le=24 * 90, description="look-back window")] = 24,
    service: Annotated[str | None, Query(max_length=100)] = None,
) -> RecentDeployments:
    found = svc.recent_deployments(container.uow, container.clock, hours, service)
    return RecentDeployments(
        hours=hours, service=service, deployments=[DeploymentOut(**asdict(d)) for d in found]
    )


@router.get("/v1/feature-flags", response_model=list[FlagOut], tags=["feature-flags"])
def list_flags(container: ContainerDep, _: Reader) -> list[FlagOut]:
    return [FlagOut(**asdict(f)) for f in svc.list_flags(container.uow)]


@router.get("/v1/feature-flags/{key}", response_model=FlagOut, tags=["feature-flags"])
def get_flag(key: NamePath, container: ContainerDep, _: Reader) -> FlagOut:
    return FlagOut(**asdict(svc.get_flag(container.uow, key)))


@router.get(
    "/v1/feature-flags/{key}/history", response_model=list[FlagChangeOut], tags=["feature-flags"]
)
def flag_history(key: NamePath, container: ContainerDep, _: Reader) -> list[FlagChangeOut]:
    return [FlagChangeOut(**asdict(c)) for c in svc.flag_history(container.uow, key)]


@router.put("/v1/feature-flags/{key}", response_model=FlagOut, tags=["feature-flags"])
def put_flag(
    key: NamePath, body: FlagPut, container: ContainerDep, actor: Writer, response: Response
) -> FlagOut:
    flag, created = svc.set_flag(
        container.uow,
        container.clock,
        actor,
        key,
        body.enabled,
        reason=body.reason,
        description=body.description,
        service=body.service,
        create=True,
        incident_id=body.incident_id,
    )
    response.status_code = 201 if created else 200
    return FlagOut(**asdict(flag))


@router.patch("/v1/feature-flags/{key}", response_model=FlagOut, tags=["feature-flags"])
def patch_flag(key: NamePath, body: FlagPatch, container: ContainerDep, actor: Writer) -> FlagOut:
    flag, _ = svc.set_flag(
        container.uow,
        container.clock,
        actor,
        key,
        body.enabled,
        reason=body.reason,
        description=body.description,
        incident_id=body.incident_id,
    )
    return FlagOut(**asdict(flag))
