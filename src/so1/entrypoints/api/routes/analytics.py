"""Analytics: MTTA, MTTM, MTTR, incidents by severity, service, cause and month, and the
runbook checks most often missed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from so1.entrypoints.api.deps import ContainerDep, Reader
from so1.entrypoints.api.times import instant
from so1.services.incidents.analytics import analytics as compute

router = APIRouter(tags=["analytics"])


@router.get("/v1/analytics")
def analytics(
    container: ContainerDep,
    actor: Reader,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    days: Annotated[int, Query(ge=1, le=3_650, description="window when no since")] = 90,
) -> dict[str, Any]:
    """Incidents detected from ``since`` (default: ``days`` ago) until ``until`` (now)."""
    end: datetime = instant(until, "until") or container.clock.now()
    start: datetime = instant(since, "since") or end - timedelta(days=days)
    return compute(container.uow, container.clock, actor, start, end)
