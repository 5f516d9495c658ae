"""The postmortem review meeting: when (a working day in the owning team's time zone, inside
SO1_POSTMORTEM_MEETING_HOURS, at least a day after resolution) and who is invited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from so1.domain.incidents import Incident
from so1.errors import NotFound
from so1.ports import UnitOfWork
from so1.services.access.clearance import require_read
from so1.services.incidents.recording import Actor

MEETING_MINUTES = 60
NOT_BEFORE = timedelta(hours=24)  # seed: "Postmortem scheduled for tomorrow"; the draft first
WORKING_DAYS = frozenset(range(5))  # Monday to Friday
DEFAULT_ZONE = "UTC"  # a service with no owning team, or a team without a schedule
DEFAULT_HOURS = (10, 16)
SEARCH_DAYS = 14


def meeting_time(
    resolved_at: datetime, zone: str = DEFAULT_ZONE, hours: tuple[int, int] = DEFAULT_HOURS
) -> datetime:
    """The first whole hour at least NOT_BEFORE after resolution, on a working day in
    ``zone``, with the meeting inside ``hours`` (start, end); in that zone."""
    first, end = hours
    start = _whole_hour((resolved_at + NOT_BEFORE).astimezone(ZoneInfo(zone)))
    for _ in range(SEARCH_DAYS):
        if start.weekday() in WORKING_DAYS:
            start = max(start, start.replace(hour=first))
            if start + timedelta(minutes=MEETING_MINUTES) <= _at_hour(start, end):
                return start
        start = (start + timedelta(days=1)).replace(hour=first)
    raise AssertionError("a working day comes within two weeks")  # pragma: no cover


def _whole_hour(at: datetime) -> datetime:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if hour == at else hour + timedelta(hours=1)


def _at_hour(day: datetime, hour: int) -> datetime:
    return day.replace(hour=0) + timedelta(hours=hour)


def team_zone(uow: UnitOfWork, incident: Incident, now: datetime) -> str:
    """The time zone of the owning team's on-call schedule (UTC when there is none)."""
    service = uow.catalog.get(incident.service) if incident.service else None
    owner = service.owner_team if service else None
    if owner is None:
        return DEFAULT_ZONE
    zones = [s.timezone for s in uow.oncall.schedules(now) if s.team == owner]
    return zones[0] if zones else DEFAULT_ZONE


def meeting_start(
    uow: UnitOfWork, incident: Incident, now: datetime, hours: tuple[int, int]
) -> datetime | None:
    """When the incident's review meeting is (None before it is resolved)."""
    if incident.resolved_at is None:
        return None
    return meeting_time(incident.resolved_at, team_zone(uow, incident, now), hours)


def meeting_details(uow: UnitOfWork, actor: Actor, incident_id: str) -> dict[str, Any]:
    """Who is invited: the commander, the responders and the affected teams' leads."""
    incident = require_read(uow, actor, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    handles = {p.handle for p in uow.participants.history(incident_id)}
    if incident.commander:
        handles.add(incident.commander)
    service = uow.catalog.get(incident.service) if incident.service else None
    team = next((t for t in uow.oncall.teams() if service and t.name == service.owner_team), None)
    if team and team.lead:
        handles.add(team.lead)
    people = [p for p in uow.oncall.people() if p.handle in handles]
    return {"incident": incident, "people": people, "handles": sorted(handles)}
