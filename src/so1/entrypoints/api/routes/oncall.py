"""On-call: import the set-up, who is on call now and next, shifts, iCalendar export,
overrides and time off, escalation policies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime

from so1.domain.oncall import Shift, Window
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.oncall_schemas import (
    OnCallConfigIn,
    OnCallNow,
    OverrideIn,
    ScheduleOnCall,
    ShiftOut,
    WindowIn,
    WindowOut,
)
from so1.services.declaration import oncall as svc
from so1.services.declaration.oncall import OnCallConfig

router = APIRouter(tags=["on-call"])

NamePath = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
]
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
DEFAULT_SPAN = timedelta(days=28)


def _shift_out(shift: Shift) -> ShiftOut:
    return ShiftOut(**asdict(shift))


def _window_out(window: Window) -> WindowOut:
    return WindowOut(**asdict(window))


@router.put("/v1/oncall/config")
def import_config(body: OnCallConfigIn, container: ContainerDep, actor: Writer) -> dict[str, Any]:
    """Create or replace teams, people, schedules and escalation policies (nothing is deleted).
    The same document as `so1 oncall load FILE.yaml`; see docs/oncall.md."""
    config = OnCallConfig(
        teams=[t.to_domain() for t in body.teams],
        people=[p.to_domain() for p in body.people],
        schedules=[s.to_domain() for s in body.schedules],
        policies=[p.to_domain() for p in body.escalation_policies],
    )
    return {"imported": svc.import_config(container.uow, container.clock, actor, config)}


@router.get("/v1/oncall", response_model=list[ScheduleOnCall])
def on_call(
    container: ContainerDep,
    _: Reader,
    team: Annotated[str | None, Query(max_length=100)] = None,
    at: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
) -> list[ScheduleOnCall]:
    """Per schedule: who is on call at `at` (now), until when, and who is next."""
    found = svc.on_call_now(container.uow, at or container.clock.now(), team)
    return [
        ScheduleOnCall(
            schedule=x.schedule.name,
            team=x.schedule.team,
            timezone=x.schedule.timezone,
            now=OnCallNow(
                handle=x.now.handle,
                via=x.now.via,
                until=x.until,
                skipped=list(x.now.skipped),
                backups=list(x.now.backups),
            ),
            next=_shift_out(x.next) if x.next else None,
        )
        for x in found
    ]


@router.get("/v1/people")
def people(container: ContainerDep, _: Reader) -> list[dict[str, Any]]:
    return [asdict(p) for p in svc.list_people(container.uow)]


@router.get("/v1/teams")
def teams(container: ContainerDep, _: Reader) -> list[dict[str, Any]]:
    return [asdict(t) for t in svc.list_teams(container.uow)]


@router.get("/v1/escalation-policies")
def policies(container: ContainerDep, _: Reader) -> list[dict[str, Any]]:
    out = []
    for policy in svc.list_policies(container.uow):
        levels = [
            {
                "targets": [{t.kind: t.name} for t in level.targets],
                "timeout_minutes": int(level.timeout.total_seconds() // 60),
            }
            for level in policy.levels
        ]
        out.append({"name": policy.name, "repeats": policy.repeats, "levels": levels})
    return out


@router.get("/v1/schedules/{name}")
def get_schedule(name: NamePath, container: ContainerDep, _: Reader) -> dict[str, Any]:
    schedule = svc.get_schedule(container.uow, name, container.clock.now())
    return {
        "name": schedule.name,
        "team": schedule.team,
        "timezone": schedule.timezone,
        "layers": [
            {
                "name": layer.name,
                "members": list(layer.members),
                "start": layer.rotation_start.isoformat(),
                "shift_hours": layer.shift.total_seconds() / 3600,
                "restrictions": len(layer.restrictions),
            }
            for layer in schedule.layers
        ],
        "overrides": [_window_out(o).model_dump(mode="json") for o in schedule.overrides],
    }


@router.get("/v1/schedules/{name}/shifts", response_model=list[ShiftOut])
def shifts(
    name: NamePath,
    container: ContainerDep,
    _: Reader,
    start: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
    end: Annotated[AwareDatetime | None, Query(description="default: start + 28 days")] = None,
) -> list[ShiftOut]:
    begin = start or container.clock.now()
    _schedule, found = svc.schedule_shifts(container.uow, name, begin, end or begin + DEFAULT_SPAN)
    return [_shift_out(s) for s in found]


@router.get("/v1/schedules/{name}/calendar.ics", response_class=Response)
def calendar(
    name: NamePath,
    container: ContainerDep,
    _: Reader,
    days: Annotated[int, Query(ge=1, le=366)] = 90,
) -> Response:
    """The schedule's shifts for the next `days` days as an iCalendar file."""
    now = container.clock.now()
    _schedule, found = svc.schedule_shifts(container.uow, name, now, now + timedelta(days=days))
    people = {p.handle: p for p in svc.list_people(container.uow)}
    body = container.adapters.calendar.shifts(name, found, people, now)
    headers = {"Content-Disposition": f'attachment; filename="{name}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.post("/v1/schedules/{name}/overrides", status_code=201, response_model=WindowOut)
def add_override(
    name: NamePath, body: OverrideIn, container: ContainerDep, actor: Writer
) -> WindowOut:
    window = Window(body.handle, body.start, body.end, body.reason)
    return _window_out(svc.add_override(container.uow, container.clock, actor, name, window))


@router.delete("/v1/schedules/{name}/overrides/{override_id}", status_code=204)
def remove_override(
    name: NamePath, override_id: IdPath, container: ContainerDep, actor: Writer
) -> Response:
    svc.remove_override(container.uow, container.clock, actor, name, override_id)
    return Response(status_code=204)


@router.post("/v1/people/{handle}/time-off", status_code=201, response_model=WindowOut)
def add_time_off(
    handle: NamePath, body: WindowIn, container: ContainerDep, actor: Writer
) -> WindowOut:
    window = Window(handle, body.start, body.end, body.reason)
    return _window_out(svc.add_time_off(container.uow, container.clock, actor, window))


@router.delete("/v1/time-off/{time_off_id}", status_code=204)
def remove_time_off(time_off_id: IdPath, container: ContainerDep, actor: Writer) -> Response:
    svc.remove_time_off(container.uow, container.clock, actor, time_off_id)
    return Response(status_code=204)
