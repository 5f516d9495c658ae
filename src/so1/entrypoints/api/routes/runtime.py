"""The settings a client needs to work with this server's runbook (admin, no secrets): where
the local platform keeps services and how quickly the gates judge a mitigation. `so1 demo
--api-url` reads them to run its service where this server acts, or to say what is missing."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, Field

from so1.entrypoints.api.deps import Admin, ContainerDep

router = APIRouter(tags=["system"])


class RuntimeOut(BaseModel):
    platform: str = Field(description="SO1_PLATFORM: local or railway")
    local_platform_root: str = Field(description="SO1_LOCAL_PLATFORM_ROOT, as an absolute path")
    supervisor_url: str = Field(description="SO1_SUPERVISOR_URL (local platform)")
    stability_minutes: float = Field(description="SO1_STABILITY_MINUTES")
    clock_seconds: int = Field(description="SO1_CLOCK_SECONDS: how often the gates are judged")
    runbook_clocks: bool = Field(description="SO1_RUNBOOK_CLOCKS: whether they are at all")


@router.get("/v1/system/runtime", response_model=RuntimeOut)
def runtime(container: ContainerDep, _: Admin) -> RuntimeOut:
    settings = container.settings
    return RuntimeOut(
        platform=settings.platform,
        local_platform_root=str(Path(settings.local_platform_root).absolute()),
        supervisor_url=settings.supervisor_url,
        stability_minutes=settings.stability_minutes,
        clock_seconds=settings.clock_seconds,
        runbook_clocks=settings.runbook_clocks,
    )
