"""Service metrics: push samples (the builtin source) and read series from the configured
source (builtin or Prometheus)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from so1.domain.metrics import KEY_METRICS, METRICS
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import Strict
from so1.entrypoints.api.times import instant
from so1.services.investigation import metrics as svc
from so1.services.verification.gates import verify_incident

router = APIRouter(tags=["metrics"])

SERVICE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class SampleBody(Strict):
    service: str = Field(min_length=1, max_length=100, pattern=SERVICE_PATTERN)
    metric: str = Field(description=f"one of: {', '.join(METRICS)}")
    value: float
    at: AwareDatetime | None = Field(default=None, description="default: now")


class SamplesIn(Strict):
    samples: list[SampleBody] = Field(min_length=1, max_length=5_000)


class Stored(BaseModel):
    stored: int


class SeriesOut(BaseModel):
    metric: str
    unit: str
    points: list[tuple[datetime, float]]


class MetricsOut(BaseModel):
    service: str
    start: datetime
    end: datetime
    series: list[SeriesOut]


class GateOut(BaseModel):
    gate: str
    metric: str
    below: float
    before: float | None
    latest: float | None
    passing: bool
    passing_since: datetime | None
    worst: float | None = Field(
        description="the highest point since passing_since: what 'passing' vouches for"
    )


class VerificationOut(BaseModel):
    incident_id: str
    service: str
    acted_at: datetime
    outcome: str
    reason: str
    stable_for_seconds: float
    gates: list[GateOut]


@router.get("/v1/incidents/{incident_id}/verification", response_model=VerificationOut)
def verification(
    incident_id: str,
    container: ContainerDep,
    actor: Reader,
    acted_at: Annotated[AwareDatetime | None, Query(description="default: mitigated_at")] = None,
) -> VerificationOut:
    """The runbook's gates (error rate < 1 %, p99 < 500 ms, 30 minutes stable) judged on the
    service's metrics since the mitigation."""
    service, acted, verdict = verify_incident(
        container.uow,
        container.clock,
        container.adapters.metrics,
        incident_id,
        actor,
        instant(acted_at, "acted_at"),
        timedelta(minutes=container.settings.stability_minutes),
    )
    gates = [
        GateOut(
            gate=r.gate.label,
            metric=r.gate.metric,
            below=r.gate.below,
            before=r.before,
            latest=r.latest,
            passing=r.passing,
            passing_since=r.passing_since,
            worst=r.worst,
        )
        for r in verdict.gates
    ]
    return VerificationOut(
        incident_id=incident_id,
        service=service,
        acted_at=acted,
        outcome=verdict.outcome.value,
        reason=verdict.reason,
        stable_for_seconds=verdict.stable_for.total_seconds(),
        gates=gates,
    )


@router.post("/v1/metrics", response_model=Stored)
def push_samples(body: SamplesIn, container: ContainerDep, _: Writer) -> Stored:
    given = [
        svc.SampleIn(s.service, s.metric, s.value, instant(s.at, f"samples[{i}].at"))
        for i, s in enumerate(body.samples)
    ]
    return Stored(stored=svc.record_samples(container.uow, container.clock, given))


@router.get("/v1/metrics", response_model=MetricsOut)
def read_series(
    container: ContainerDep,
    _: Reader,
    service: Annotated[str, Query(min_length=1, max_length=100, pattern=SERVICE_PATTERN)],
    metric: Annotated[list[str] | None, Query(description="repeat for several")] = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    minutes: Annotated[int, Query(ge=1, le=10_080, description="window when no start")] = 60,
    step: Annotated[int | None, Query(ge=1, le=86_400, description="seconds")] = None,
) -> MetricsOut:
    end = instant(end, "end") or container.clock.now()
    start = instant(start, "start") or end - timedelta(minutes=minutes)
    found = svc.metric_series(
        container.uow,
        container.adapters.metrics,
        service,
        metric or list(KEY_METRICS),
        start,
        end,
        step,
    )
    series = [SeriesOut(metric=s.metric, unit=s.unit, points=s.points) for s in found]
    return MetricsOut(service=service, start=start, end=end, series=series)
