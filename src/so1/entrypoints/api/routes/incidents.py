"""Incident routes: list, declare, read, update (the seed's close call), timeline."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Response

from so1.domain.incidents import Incident, IncidentStatus, allowed_next, is_incident_id
from so1.domain.severity import Severity
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.schemas import (
    AttachedAlertOut,
    IncidentCreate,
    IncidentDetailOut,
    IncidentOut,
    IncidentPage,
    IncidentUpdate,
    SeverityChangeOut,
    TimelineEventOut,
    TimelineOut,
)
from so1.errors import NotFound, ValidationFailed
from so1.ports import AlertFilter, IncidentFilter
from so1.services.incidents import lifecycle as svc
from so1.services.intake import deliveries as intake

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

_EDITABLE = ("title", "summary", "service", "impact", "commander", "channel", "customer_summary")
ALERTS_SHOWN = 50


def to_out(incident: Incident) -> IncidentOut:
    return IncidentOut(**asdict(incident), next_statuses=list(allowed_next(incident.status)))


def _split(
    values: list[str] | None, allowed: type[IncidentStatus] | type[Severity], name: str
) -> list[str]:
    """Accepts repeated and comma-separated values; names the first unknown one."""
    items = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    known = {m.value for m in allowed}
    for item in items:
        if item not in known:
            raise ValidationFailed(
                f"unknown {name} '{item}'; one of: {', '.join(sorted(known))}", name
            )
    return items


def checked_id(incident_id: str) -> str:
    if not is_incident_id(incident_id):
        raise NotFound(f"incident {incident_id} does not exist (ids look like INC-20240115-0042)")
    return incident_id


@router.get("", response_model=IncidentPage)
def list_incidents(
    container: ContainerDep,
    actor: Reader,
    status: Annotated[
        list[str] | None, Query(description="filter; repeat or comma-separate")
    ] = None,
    severity: Annotated[
        list[str] | None, Query(description="SEV0..SEV4; repeat or comma-separate")
    ] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentPage:
    flt = IncidentFilter(
        status=_split(status, IncidentStatus, "status"),
        severity=_split(severity, Severity, "severity"),
        service=service,
        limit=limit,
        offset=offset,
    )
    items, total = svc.list_incidents(container.uow, flt, actor)
    return IncidentPage(items=[to_out(i) for i in items], total=total, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=IncidentOut)
def create_incident(
    body: IncidentCreate, container: ContainerDep, actor: Writer, response: Response
) -> IncidentOut:
    new = svc.NewIncident(**body.model_dump(exclude={"status"}), status=IncidentStatus(body.status))
    incident = svc.create_incident(container.uow, container.clock, actor, new)
    response.headers["Location"] = f"/v1/incidents/{incident.id}"
    return to_out(incident)


@router.get("/{incident_id}", response_model=IncidentDetailOut)
def get_incident(incident_id: str, container: ContainerDep, actor: Reader) -> IncidentDetailOut:
    """The incident and the alerts attached to it (a later alert on its service or a
    connected one joins it). A security incident answers 404 to a key without the
    `security` scope."""
    incident = svc.get_incident(container.uow, checked_id(incident_id), actor)
    attached = AlertFilter(incident_id=incident.id, limit=ALERTS_SHOWN)
    alerts, count = intake.list_alerts(container.uow, attached, actor)
    shown = [
        AttachedAlertOut(
            id=a.id,
            source=a.source,
            summary=a.summary,
            service=a.service,
            metric=a.metric,
            status=a.status.value,
            first_seen_at=a.first_seen_at,
            last_seen_at=a.last_seen_at,
        )
        for a in alerts
    ]
    return IncidentDetailOut(**to_out(incident).model_dump(), alerts=shown, alert_count=count)


@router.patch("/{incident_id}", response_model=IncidentOut)
def update_incident(
    incident_id: str, body: IncidentUpdate, container: ContainerDep, actor: Writer
) -> IncidentOut:
    given = body.model_fields_set
    for name in ("status", "severity", "title", "impact"):
        if name in given and getattr(body, name) is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    patch = svc.IncidentPatch(
        status=body.status,
        severity=body.severity,
        severity_reason=body.severity_reason,
        resolution_summary=body.resolution_summary,
        resolved_at=body.resolved_at,
        fields={name: getattr(body, name) for name in _EDITABLE if name in given},
    )
    incident = svc.update_incident(
        container.uow, container.clock, actor, checked_id(incident_id), patch
    )
    return to_out(incident)


@router.get("/{incident_id}/timeline", response_model=TimelineOut)
def get_timeline(incident_id: str, container: ContainerDep, actor: Reader) -> TimelineOut:
    """Ordered events; a security incident's only for keys with the `security` scope."""
    events = svc.incident_timeline(container.uow, checked_id(incident_id), actor)
    history = svc.severity_history(container.uow, incident_id, actor)
    return TimelineOut(
        incident_id=incident_id,
        events=[TimelineEventOut(**asdict(e)) for e in events],
        severity_history=[SeverityChangeOut(**asdict(h)) for h in history],
    )
