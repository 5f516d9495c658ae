"""Bodies of the on-call API: the import document (also the YAML file's shape), overrides,
time off, and who is on call."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from so1.domain.oncall import (
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Person,
    Restriction,
    Schedule,
    Seniority,
    Target,
    Team,
)
from so1.entrypoints.api.schemas import Name, Strict

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
Handle = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
OptionalName = Field(default=None, min_length=1, max_length=100)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``1d``, ``1w`` → timedelta."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"'{text}' is not a duration like 30m, 12h, 1d or 1w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class PersonIn(Strict):
    handle: str = Handle
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    slack_id: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=50)
    team: str | None = OptionalName
    seniority: Seniority = Seniority.ENGINEER

    def to_domain(self) -> Person:
        return Person(**self.model_dump())


class TeamIn(Strict):
    name: str = Name
    slack_channel: str | None = Field(default=None, max_length=100)
    lead: str | None = OptionalName
    escalation_policy: str | None = OptionalName

    def to_domain(self) -> Team:
        return Team(**self.model_dump())


class RestrictionIn(Strict):
    days: list[Day] = Field(default=list(DAYS), min_length=1)
    start: time
    end: time

    def to_domain(self) -> Restriction:
        return Restriction(frozenset(DAYS.index(d) for d in self.days), self.start, self.end)


class LayerIn(Strict):
    name: str = Name
    members: list[str] = Field(min_length=1, max_length=200)
    start: datetime = Field(description="first handoff, wall-clock time in the schedule's zone")
    shift: str = Field(description="rotation length: 12h, 1d, 1w ...", examples=["1w"])
    restrictions: list[RestrictionIn] = Field(default_factory=list, max_length=14)

    @field_validator("shift")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def to_domain(self, zone: ZoneInfo) -> Layer:
        start = self.start
        if start.tzinfo is not None:  # given with an offset: the same moment, local wall time
            start = start.astimezone(zone)
        restrictions = tuple(r.to_domain() for r in self.restrictions)
        start = start.replace(tzinfo=None)
        return Layer(
            self.name, tuple(self.members), start, parse_duration(self.shift), restrictions
        )


class ScheduleIn(Strict):
    name: str = Name
    team: str | None = OptionalName
    timezone: str = "UTC"
    layers: list[LayerIn] = Field(min_length=1, max_length=20)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone '{value}' (an IANA name like Europe/Berlin)"
            ) from exc
        return value

    def to_domain(self) -> Schedule:
        zone = ZoneInfo(self.timezone)
        layers = tuple(layer.to_domain(zone) for layer in self.layers)
        return Schedule(self.name, self.timezone, layers, self.team)


class TargetIn(Strict):
    schedule: str | None = OptionalName
    person: str | None = OptionalName

    @model_validator(mode="after")
    def _one(self) -> TargetIn:
        if (self.schedule is None) == (self.person is None):
            raise ValueError("a target names exactly one of 'schedule' or 'person'")
        return self

    def to_domain(self) -> Target:
        return (
            Target("schedule", self.schedule)
            if self.schedule
            else Target("person", self.person or "")
        )


class LevelIn(Strict):
    targets: list[TargetIn] = Field(min_length=1, max_length=20)
    timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)


class PolicyIn(Strict):
    name: str = Name
    repeats: int = Field(default=0, ge=0, le=9)
    levels: list[LevelIn] = Field(min_length=1, max_length=20)

    def to_domain(self) -> EscalationPolicy:
        levels = tuple(
            EscalationLevel(
                tuple(t.to_domain() for t in level.targets),
                timedelta(minutes=level.timeout_minutes),
            )
            for level in self.levels
        )
        return EscalationPolicy(self.name, levels, self.repeats)


class OnCallConfigIn(Strict):
    """The on-call import document (`so1 oncall load FILE.yaml` sends it as JSON)."""

    teams: list[TeamIn] = Field(default_factory=list, max_length=1000)
    people: list[PersonIn] = Field(default_factory=list, max_length=10000)
    schedules: list[ScheduleIn] = Field(default_factory=list, max_length=1000)
    escalation_policies: list[PolicyIn] = Field(default_factory=list, max_length=1000)


class WindowIn(Strict):
    start: AwareDatetime
    end: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)


class OverrideIn(WindowIn):
    handle: str = Handle


class WindowOut(BaseModel):
    id: int | None
    handle: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None


class ShiftOut(BaseModel):
    handle: str | None
    via: str
    starts_at: datetime
    ends_at: datetime


class OnCallNow(BaseModel):
    handle: str | None
    via: str
    until: datetime | None
    skipped: list[str] = Field(description="on the rota but away")
    backups: list[str] = Field(description="the rest of the rotation, in order")


class ScheduleOnCall(BaseModel):
    schedule: str
    team: str | None
    timezone: str
    now: OnCallNow
    next: ShiftOut | None
