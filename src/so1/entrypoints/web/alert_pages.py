"""The alerts pages: the list with filters (status, service, source, last seen), one alert with
what its sender said and the triage-responder's report, and acknowledging it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.alerts import AlertSource, AlertStatus
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.forms import _act
from so1.entrypoints.web.pages import _page, signed_in
from so1.errors import ValidationFailed
from so1.ports import AlertFilter
from so1.services.incidents.recording import Actor
from so1.services.intake import deliveries as intake

router = APIRouter(include_in_schema=False)
SHOWN = 200
SEEN_WITHIN = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def alert_filter(container: Container, query: dict[str, str]) -> AlertFilter:
    """The list's filters from the page's query; a value the form does not offer is a 422."""
    status, source = query.get("status", ""), query.get("source", "")
    if status and status not in {s.value for s in AlertStatus}:
        raise ValidationFailed(f"no alert status '{status}'", field="status")
    if source and source not in {s.value for s in AlertSource}:
        raise ValidationFailed(f"no alert source '{source}'", field="source")
    within = query.get("seen", "")
    if within and within not in SEEN_WITHIN:
        raise ValidationFailed(f"'seen' is one of {', '.join(SEEN_WITHIN)}", field="seen")
    since = container.clock.now() - SEEN_WITHIN[within] if within else None
    return AlertFilter(
        status=[status] if status else [],
        source=source or None,
        service=query.get("service", "").strip() or None,
        seen_since=since,
        limit=SHOWN,
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    query = dict(request.query_params)
    found, total = intake.list_alerts(container.uow, alert_filter(container, query), session.actor)
    return _page(
        request,
        "alerts.html",
        session=session,
        alerts=found,
        total=total,
        query=query,
        statuses=[s.value for s in AlertStatus],
        sources=[s.value for s in AlertSource],
        seen=list(SEEN_WITHIN),
        can_write=session.may(Scope.WRITE),
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(alert_id: str, request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    alert = intake.get_alert(container.uow, alert_id, session.actor)
    run = intake.triage_of_alert(container.uow, alert_id, session.actor)
    report: dict[str, Any] = dict(run.output or {}) if run else {}
    return _page(
        request,
        "alert.html",
        session=session,
        alert=alert,
        run=run,
        report=report,
        details=json.dumps(alert.details, indent=2, sort_keys=True, default=str),
        can_write=session.may(Scope.WRITE),
    )


def _acknowledge(container: Container, actor: Actor, form: dict[str, str]) -> str:
    alert_id = form.get("alert_id", "")
    intake.acknowledge_alert(container.uow, container.clock, actor, alert_id)
    return f"/alerts/{alert_id}"


@router.post("/alerts/acknowledge")
async def acknowledge(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _acknowledge)
