"""The live parts of the pages: server-sent events that say when the dashboard changed or an
incident's timeline grew, the HTML fragments the page then swaps in, and the small script
that does it (shipped here: no CDN)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from so1.domain.incidents import OPEN_STATUSES
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.pages import signed_in, templates
from so1.errors import NotFound, Unauthorized
from so1.ports import IncidentFilter
from so1.services.access.clearance import require_read, sees_private
from so1.services.access.web_sessions import Session
from so1.services.views import charts, dashboard

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
POLL_SECONDS = 1.0
KEEPALIVE_EVERY = 15


STATIC_FILES = {"live.js": "text/javascript", "so1.css": "text/css", "status.css": "text/css"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' script and stylesheets (files, so the CSP can forbid inline ones)."""
    media = STATIC_FILES.get(name)
    if media is None:
        raise NotFound(f"no static file '{name}'")
    return Response(
        (STATIC / name).read_text("utf-8"),
        media_type=media,
        headers={"Cache-Control": "max-age=300"},
    )


def _session_or_401(container: ContainerDep, request: Request) -> Session:
    session = signed_in(container, request)
    if session is None:
        raise Unauthorized("sign in first")
    return session


@router.get("/partials/incidents", response_class=HTMLResponse)
def incidents_fragment(request: Request, container: ContainerDep) -> HTMLResponse:
    session = _session_or_401(container, request)
    found = dashboard(container.uow, container.clock, session.actor)
    return templates.TemplateResponse(request, "incidents_table.html", {"rows": found["rows"]})


@router.get("/partials/incidents/{incident_id}/war-room", response_class=HTMLResponse)
def war_room_fragment(incident_id: str, request: Request, container: ContainerDep) -> HTMLResponse:
    session = _session_or_401(container, request)
    with container.uow(read_only=True) as uow:
        if require_read(uow, session.actor, incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        messages = uow.outbox.for_incident(incident_id)
    return templates.TemplateResponse(request, "war_room_messages.html", {"messages": messages})


@router.get("/partials/incidents/{incident_id}/charts", response_class=HTMLResponse)
def charts_fragment(incident_id: str, request: Request, container: ContainerDep) -> HTMLResponse:
    """The metric charts again: samples arrive without timeline events, so the page asks."""
    session = _session_or_401(container, request)
    with container.uow(read_only=True) as uow:
        incident = require_read(uow, session.actor, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    graphs = charts(container.uow, container.clock, container.adapters.metrics, incident)
    return templates.TemplateResponse(request, "charts.html", {"charts": graphs})


def _stream(
    request: Request, probe: Callable[[], object], render: Callable[[object], list[str]]
) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        last = await run_in_threadpool(probe)
        quiet = 0
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_SECONDS)
            current = await run_in_threadpool(probe)
            if current != last:
                for chunk in render(current):
                    yield "data: " + chunk.replace("\n", " ") + "\n\n"
                last, quiet = current, 0
            else:
                quiet += 1
                if quiet >= KEEPALIVE_EVERY:
                    yield ": still here\n\n"
                    quiet = 0

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get("/events/dashboard")
def dashboard_events(request: Request, container: ContainerDep) -> StreamingResponse:
    """An event whenever the open incidents change (new, status, severity, commander)."""
    session = _session_or_401(container, request)
    shown = IncidentFilter(
        status=OPEN_STATUSES, limit=200, include_private=sees_private(session.actor)
    )

    def probe() -> object:
        with container.uow(read_only=True) as uow:
            found, _ = uow.incidents.search(shown)
        return tuple((i.id, i.version) for i in found)

    return _stream(request, probe, lambda _: ["changed"])


@router.get("/incidents/{incident_id}/events")
def incident_events(
    incident_id: str,
    request: Request,
    container: ContainerDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> StreamingResponse:
    """Each new timeline event of the incident, as the list item the page shows."""
    session = _session_or_401(container, request)
    with container.uow(read_only=True) as uow:
        if require_read(uow, session.actor, incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
    seen = [after]

    def probe() -> object:
        with container.uow(read_only=True) as uow:
            events = uow.timeline.for_incident(incident_id)
        return tuple(e for e in events if (e.id or 0) > seen[0])

    def render(found: object) -> list[str]:
        new = list(found)  # type: ignore[call-overload]
        if new:
            seen[0] = max(e.id or 0 for e in new)
        item = templates.get_template("timeline_item.html")
        return [item.render(e=e) for e in new]

    return _stream(request, probe, render)
