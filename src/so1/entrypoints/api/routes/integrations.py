"""Alert senders over HTTP (admin): add one, list them, rotate or disable one; what
`so1 integrations` does against the server named by SO1_API_URL."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from so1.entrypoints.api.admin_schemas import (
    IntegrationIn,
    IntegrationOut,
    IntegrationSecretOut,
    RotateIntegrationIn,
)
from so1.entrypoints.api.deps import Admin, ContainerDep
from so1.services.intake import integrations as svc

router = APIRouter(tags=["integrations"])
IntegrationId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/v1/integrations", response_model=list[IntegrationOut])
def list_integrations(container: ContainerDep, _: Admin) -> list[IntegrationOut]:
    """Every sender, never a secret."""
    return [IntegrationOut.of(i) for i in svc.list_integrations(container.uow)]


@router.post("/v1/integrations", response_model=IntegrationSecretOut, status_code=201)
def add_integration(
    body: IntegrationIn, container: ContainerDep, actor: Admin
) -> IntegrationSecretOut:
    """A sender; ``secret`` (generated unless given) is in this answer only."""
    name = body.name or body.source.value
    made = svc.add_integration(
        container.uow, container.clock, actor, body.source, name, body.secret
    )
    return IntegrationSecretOut(**IntegrationOut.of(made).model_dump(), secret=made.secret)


@router.post(
    "/v1/integrations/{integration_id}/rotate",
    response_model=IntegrationSecretOut,
    status_code=201,
)
def rotate_integration(
    integration_id: IntegrationId,
    container: ContainerDep,
    actor: Admin,
    body: RotateIntegrationIn | None = None,
) -> IntegrationSecretOut:
    """A new secret; the previous one keeps working for ``grace_seconds`` (default
    SO1_INTEGRATION_ROTATION_GRACE_SECONDS)."""
    body = body or RotateIntegrationIn()
    seconds = body.grace_seconds
    if seconds is None:
        seconds = container.settings.integration_rotation_grace_seconds
    rotated = svc.rotate_integration(
        container.uow,
        container.clock,
        actor,
        integration_id,
        timedelta(seconds=seconds),
        body.secret,
    )
    container.edge.integration_cache.clear()  # the replaced secret's grace applies at once
    return IntegrationSecretOut(**IntegrationOut.of(rotated).model_dump(), secret=rotated.secret)


@router.post("/v1/integrations/{integration_id}/disable", response_model=IntegrationOut)
def disable_integration(
    integration_id: IntegrationId, container: ContainerDep, actor: Admin
) -> IntegrationOut:
    """Nothing signed with this sender's secrets is accepted any more."""
    svc.disable_integration(container.uow, container.clock, actor, integration_id)
    container.edge.integration_cache.clear()  # refused from now on in this process
    found = [i for i in svc.list_integrations(container.uow) if i.id == integration_id]
    return IntegrationOut.of(found[0])
