"""The list pages: alerts, on call (each schedule's calendar for this week and the next),
deployments (with a rollback button), feature flags (flip with a reason) and analytics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from so1.domain.access import Scope
from so1.domain.oncall import Schedule
from so1.domain.oncall_calendar import calendar_weeks, first_monday
from so1.entrypoints.api.agent_inputs import deployer_request_of
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.forms import _act
from so1.entrypoints.web.pages import _page, signed_in
from so1.errors import ValidationFailed
from so1.ports import AlertFilter
from so1.services.access.clearance import sees_private
from so1.services.declaration import oncall
from so1.services.incidents.analytics import analytics
from so1.services.incidents.recording import Actor
from so1.services.mitigation import changes
from so1.services.mitigation.runs import deployer_request

router = APIRouter(include_in_schema=False)
WEEKS = 2


def _signed(request: Request, container: ContainerDep) -> Any:
    return signed_in(container, request)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    shown = AlertFilter(limit=200, include_private=sees_private(session.actor))
    with container.uow(read_only=True) as uow:
        found, total = uow.alerts.search(shown)
    return _page(request, "alerts.html", session=session, alerts=found, total=total)


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    now = container.clock.now()
    now_on = oncall.on_call_now(container.uow, now)
    calendars = [(s, _calendar(container, s.schedule, now)) for s in now_on]
    return _page(request, "oncall.html", session=session, calendars=calendars, now=now)


def _calendar(container: ContainerDep, schedule: Schedule, now: datetime) -> Any:
    """This week and the next, Monday first, in the schedule's time zone."""
    zone = ZoneInfo(schedule.timezone)
    start = first_monday(now, zone)
    end = start + timedelta(weeks=WEEKS, hours=2)  # a DST change still reaches the last day
    _, shifts = oncall.schedule_shifts(container.uow, schedule.name, start, end)
    return calendar_weeks(shifts, zone, start, WEEKS, now)


@router.get("/deployments", response_class=HTMLResponse)
def deployments_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    found = changes.recent_deployments(container.uow, container.clock, 24 * 7, None)
    return _page(
        request,
        "deployments.html",
        session=session,
        deployments=found,
        can_deploy=session.may(Scope.DEPLOY),
    )


def _rollback(container: Any, actor: Actor, form: dict[str, str]) -> str:
    service = form.get("service", "")
    rollback = {"action": "rollback", "service": service, "target_version": "previous"}
    request = deployer_request_of(rollback)
    deployer_request(container.uow, container.clock, actor, container.deployer, request)
    return "/deployments"


@router.post("/deployments/rollback")
async def rollback(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.DEPLOY, _rollback)


@router.get("/flags", response_class=HTMLResponse)
def flags_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    found = changes.list_flags(container.uow)
    return _page(
        request, "flags.html", session=session, flags=found, can_write=session.may(Scope.WRITE)
    )


def _flip(container: Any, actor: Actor, form: dict[str, str]) -> str:
    if form.get("confirm") != "yes":
        raise ValidationFailed("tick the confirmation to flip a flag", field="confirm")
    reason = form.get("reason", "").strip()
    if not reason:
        raise ValidationFailed("say why the flag changes (it goes on the record)", field="reason")
    changes.set_flag(
        container.uow,
        container.clock,
        actor,
        form.get("key", ""),
        form.get("enabled") == "true",
        reason=reason,
    )
    return "/flags"


@router.post("/flags/flip")
async def flip(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _flip)


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    end = container.clock.now()
    found = await run_in_threadpool(
        analytics, container.uow, container.clock, session.actor, end - timedelta(days=90), end
    )
    return _page(request, "analytics.html", session=session, found=found)
