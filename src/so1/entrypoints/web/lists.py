"""The list pages (alerts are in alert_pages): on call (each schedule's calendar for this week
and the next, with overrides), deployments (roll back when there is a version to go back to),
feature flags (create, flip with a reason, the history of flips) and analytics."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from so1.domain.access import Scope
from so1.domain.oncall import Schedule, Window
from so1.domain.oncall_calendar import calendar_weeks, first_monday
from so1.entrypoints.api.agent_inputs import deployer_request_of
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.forms import _act
from so1.entrypoints.web.pages import _page, signed_in
from so1.errors import Conflict, ValidationFailed
from so1.services.declaration import oncall
from so1.services.incidents.analytics import analytics
from so1.services.incidents.recording import Actor
from so1.services.mitigation import changes
from so1.services.mitigation.runs import deployer_request

router = APIRouter(include_in_schema=False)
WEEKS = 2
FLAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")  # as the API's path allows


def _signed(request: Request, container: ContainerDep) -> Any:
    return signed_in(container, request)


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, container: ContainerDep) -> Response:
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    now = container.clock.now()
    now_on = oncall.on_call_now(container.uow, now)
    people = oncall.list_people(container.uow)
    calendars = [
        (s, _calendar(container, s.schedule, now), _local(s.until, s.schedule.timezone))
        for s in now_on
    ]
    return _page(
        request,
        "oncall.html",
        session=session,
        calendars=calendars,
        now=now,
        people=people,
        names={p.handle: p.name for p in people if p.name},
        can_write=session.may(Scope.WRITE),
    )


def _local(moment: datetime | None, zone: str) -> str | None:
    """A time as the schedule's people read it: in its zone, with the day."""
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M")


def _override(container: Any, actor: Actor, form: dict[str, str]) -> str:
    """Someone covers a schedule; the form's times are in the schedule's time zone."""
    name = form.get("schedule", "")
    schedule = oncall.get_schedule(container.uow, name, container.clock.now())
    zone = ZoneInfo(schedule.timezone)
    starts, ends = (_form_time(form, field, zone) for field in ("start", "end"))
    if ends <= starts:
        raise ValidationFailed("the override must end after it starts", field="end")
    reason = form.get("reason", "").strip() or None
    window = Window(form.get("handle", "").strip(), starts, ends, reason)
    oncall.add_override(container.uow, container.clock, actor, name, window)
    return "/oncall"


def _form_time(form: dict[str, str], field: str, zone: ZoneInfo) -> datetime:
    try:
        return datetime.fromisoformat(form.get(field, "")).replace(tzinfo=zone)
    except ValueError:
        raise ValidationFailed(f"'{field}' must be a date and time", field=field) from None


@router.post("/oncall/override")
async def override(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _override)


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


def _create_flag(container: Any, actor: Actor, form: dict[str, str]) -> str:
    key = form.get("key", "").strip()
    if not FLAG_KEY.fullmatch(key):
        raise ValidationFailed(
            "a flag's key is 1-100 letters, digits, '.', '_', ':' or '-', starting with a "
            "letter or digit",
            field="key",
        )
    reason = form.get("reason", "").strip()
    if not reason:
        raise ValidationFailed("say why the flag is made (it goes on the record)", field="reason")
    if any(flag.key == key for flag in changes.list_flags(container.uow)):
        raise Conflict(f"feature flag '{key}' exists already; flip it in the list")
    changes.set_flag(
        container.uow,
        container.clock,
        actor,
        key,
        form.get("enabled") == "true",
        reason=reason,
        description=form.get("description", "").strip() or None,
        service=form.get("service", "").strip() or None,
        create=True,
    )
    return f"/flags/{key}"


@router.post("/flags/create")
async def create_flag(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _create_flag)


@router.get("/flags/{key}", response_class=HTMLResponse)
def flag_page(key: str, request: Request, container: ContainerDep) -> Response:
    """One flag and every change of it: who, when, why."""
    session = _signed(request, container)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    flag = changes.get_flag(container.uow, key)
    history = sorted(changes.flag_history(container.uow, key), key=lambda c: c.changed_at)
    return _page(request, "flag.html", session=session, flag=flag, history=history[::-1])


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
