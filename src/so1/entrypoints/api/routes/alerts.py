"""The generic events API (`POST /v1/alerts`) and reading / acknowledging alerts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from so1.domain.alerts import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertSource,
    AlertStatus,
    ParsedDelivery,
    SeverityHint,
)
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.entrypoints.api.alert_checks import CheckedAlert
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.intake_schemas import AlertIn, AlertOut, AlertPage
from so1.entrypoints.api.storing import store
from so1.errors import ValidationFailed
from so1.ports import AlertFilter
from so1.services.intake import deliveries as intake
from so1.services.intake.deliveries import IngestResult

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(**asdict(alert))


def alert_event(body: AlertIn | CheckedAlert) -> AlertEvent:
    """The event a valid body stands for (a trigger without dedup_key gets a new one)."""
    dedup_key = body.dedup_key or intake.new_alert_id().replace("alt_", "gen_")
    labels = {**body.labels, "origin": body.source}
    return AlertEvent(
        source=AlertSource.EVENTS,
        action=AlertAction(body.event_action),
        dedup_key=dedup_key,
        summary=body.summary or "",
        service=body.service,
        metric=body.metric,
        current_value=None if body.current_value is None else str(body.current_value),
        threshold=body.threshold,
        severity_hint=SeverityHint(body.severity) if body.severity else None,
        labels=labels,
        details=body.details,
        occurred_at=body.timestamp,
        is_test=body.test,
    )


@router.post("", status_code=202)
async def post_alert(
    body: AlertIn, request: Request, container: ContainerDep, _: Writer
) -> JSONResponse:
    """Trigger, acknowledge or resolve an alert; stored durably before the 202."""
    raw = await request.body()
    event = alert_event(body)
    delivery = Delivery(
        AlertSource.EVENTS, container.clock.now(), {}, raw, DeliveryOutcome.ACCEPTED
    )
    result = await store(container, delivery, ParsedDelivery(events=[event]))
    return JSONResponse(accepted(event, result), status_code=202)


def accepted(event: AlertEvent, result: IngestResult) -> dict[str, object]:
    """The 202 body: the alert, its state and what the event did to it."""
    (outcome,) = result.results
    alert = outcome.alert
    return {
        "alert_id": alert.id if alert else None,
        "dedup_key": event.dedup_key,
        "status": alert.status.value if alert else "dropped",
        "dedup_count": alert.dedup_count if alert else 0,
        "outcome": outcome.outcome,
    }


@router.get("", response_model=AlertPage)
def list_alerts(
    container: ContainerDep,
    actor: Reader,
    status: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
    source: Annotated[str | None, Query(max_length=30)] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
    incident_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPage:
    statuses = [v.strip() for raw in status or [] for v in raw.split(",") if v.strip()]
    known = {s.value for s in AlertStatus}
    for value in statuses:
        if value not in known:
            raise ValidationFailed(
                f"unknown status '{value}'; one of: {', '.join(sorted(known))}", "status"
            )
    flt = AlertFilter(
        status=statuses,
        source=source,
        service=service,
        incident_id=incident_id,
        limit=limit,
        offset=offset,
    )
    items, total = intake.list_alerts(container.uow, flt, actor)
    return AlertPage(items=[alert_out(a) for a in items], total=total, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, container: ContainerDep, actor: Reader) -> AlertOut:
    """An alert of a security incident answers 404 to a key without the `security` scope."""
    return alert_out(intake.get_alert(container.uow, alert_id, actor))


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: str, container: ContainerDep, actor: Writer) -> AlertOut:
    return alert_out(intake.acknowledge_alert(container.uow, container.clock, actor, alert_id))
