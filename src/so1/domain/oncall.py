"""People, teams, on-call schedules and escalation policies.

A schedule has layers; each layer rotates its members every ``shift`` from ``rotation_start``
(wall-clock time in the schedule's time zone, so a 09:00 handoff stays at 09:00 across DST)
and may be restricted to daily windows. Higher layers (later in the list) win where they have
someone; an override wins over every layer. Someone on time off is skipped: the next member
of that layer's rotation covers (the runbook's "Commander unavailable: assign backup from
rotation").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from so1.domain.access import Role

MAX_SPAN = timedelta(days=366)  # longest window shifts() will lay out


class Seniority(enum.StrEnum):
    """Ordered: the runbook's commander table asks for at least a rank per severity."""

    ENGINEER = "engineer"
    SENIOR = "senior"
    LEAD = "lead"
    EXECUTIVE = "executive"

    @property
    def rank(self) -> int:
        return list(Seniority).index(self)


@dataclass(frozen=True, slots=True)
class Person:
    handle: str
    name: str | None = None
    email: str | None = None
    slack_id: str | None = None
    phone: str | None = None
    team: str | None = None
    seniority: Seniority = Seniority.ENGINEER
    # the account: ``role`` bounds the person's keys (None: not set, keys keep their scopes)
    role: Role | None = None
    disabled_at: datetime | None = None  # set: every key and session of theirs is refused

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    slack_channel: str | None = None
    lead: str | None = None  # a person's handle: the engineering lead
    escalation_policy: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A span of time someone is (or is not) available: overrides and time off."""

    handle: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None = None
    id: int | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class Restriction:
    """A daily window (schedule-local); ``end <= start`` runs past midnight."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return local.weekday() in self.days
        return (local.weekday() - 1) % 7 in self.days and clock < self.end

    def edges(self, day: datetime) -> list[datetime]:
        """This window's start and end on the given local day."""
        return [day.replace(hour=t.hour, minute=t.minute, second=0) for t in (self.start, self.end)]


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    members: tuple[str, ...]
    rotation_start: datetime  # naive: wall-clock time in the schedule's zone
    shift: timedelta
    restrictions: tuple[Restriction, ...] = ()

    def turn(self, local: datetime) -> int | None:
        """Which shift number is running at this local wall-clock time (None: not started)."""
        if local < self.rotation_start or not self.members:
            return None
        return (local - self.rotation_start) // self.shift

    def rotation_at(self, local: datetime) -> list[str]:
        """Members in the order they cover at this time: whose turn it is, then the backups."""
        turn = self.turn(local)
        if turn is None or not self._in_window(local):
            return []
        first = turn % len(self.members)
        return [*self.members[first:], *self.members[:first]]

    def _in_window(self, local: datetime) -> bool:
        return not self.restrictions or any(r.covers(local) for r in self.restrictions)

    def boundaries(self, start: datetime, end: datetime) -> Iterable[datetime]:
        """Local times in [start, end) where this layer may change hands."""
        turn = self.turn(start)
        at = self.rotation_start if turn is None else self.rotation_start + (turn + 1) * self.shift
        while at < end:
            yield at
            at += self.shift
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while self.restrictions and day < end:
            for restriction in self.restrictions:
                yield from (e for e in restriction.edges(day) if start < e < end)
            day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who covers a schedule at one moment, and why."""

    handle: str | None
    via: str  # "override", "layer <name>", or "nobody"
    skipped: tuple[str, ...] = ()  # on the rota but away (time off)
    backups: tuple[str, ...] = ()  # the rest of the rotation, in order


@dataclass(frozen=True, slots=True)
class Shift:
    handle: str | None
    via: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    timezone: str
    layers: tuple[Layer, ...]
    team: str | None = None
    overrides: tuple[Window, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone).replace(tzinfo=None)

    def on_call(self, at: datetime, away: Sequence[Window] = ()) -> OnCall:
        """Override first, then the highest layer with someone who is not away."""
        out = set_of_away(away, at)
        for override in self.overrides:
            if override.covers(at) and override.handle not in out:
                return OnCall(override.handle, "override")
        local = self.local(at)
        for layer in reversed(self.layers):
            rotation = layer.rotation_at(local)
            present = [h for h in rotation if h not in out]
            if present:
                skipped = tuple(h for h in rotation[: rotation.index(present[0])])
                return OnCall(present[0], f"layer {layer.name}", skipped, tuple(present[1:]))
        return OnCall(None, "nobody")

    def shifts(self, start: datetime, end: datetime, away: Sequence[Window] = ()) -> list[Shift]:
        """Consecutive shifts covering [start, end): who, by which rule, from when to when."""
        end = min(end, start + MAX_SPAN)
        points = sorted({start, *self._changes(start, end, away)})
        shifts: list[Shift] = []
        for begin, finish in zip(points, [*points[1:], end], strict=True):
            current = self.on_call(begin, away)
            if shifts and (shifts[-1].handle, shifts[-1].via) == (current.handle, current.via):
                shifts[-1] = Shift(current.handle, current.via, shifts[-1].starts_at, finish)
            else:
                shifts.append(Shift(current.handle, current.via, begin, finish))
        return shifts

    def _changes(self, start: datetime, end: datetime, away: Sequence[Window]) -> set[datetime]:
        zone = self.zone
        local_start, local_end = self.local(start), self.local(end)
        changes = {
            point.replace(tzinfo=zone).astimezone(start.tzinfo)
            for layer in self.layers
            for point in layer.boundaries(local_start, local_end)
        }
        for window in (*self.overrides, *away):
            changes.update(t for t in (window.starts_at, window.ends_at) if start < t < end)
        return {t for t in changes if start < t < end}


def set_of_away(away: Sequence[Window], at: datetime) -> set[str]:
    return {w.handle for w in away if w.covers(at)}


@dataclass(frozen=True, slots=True)
class Target:
    """Whom an escalation level notifies: whoever covers a schedule, or a named person."""

    kind: str  # "schedule" | "person"
    name: str


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    targets: tuple[Target, ...]
    timeout: timedelta  # how long to wait for an acknowledgement before the next level


@dataclass(frozen=True, slots=True)
class EscalationStep:
    number: int  # counts every notification of the whole policy, from 0
    level: int
    cycle: int
    due_at: datetime
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Levels notified in turn until someone acknowledges; the whole list runs
    ``1 + repeats`` times (on-call engineer → backup → engineering lead → executive)."""

    name: str
    levels: tuple[EscalationLevel, ...]
    repeats: int = 0

    def steps(self, started_at: datetime) -> list[EscalationStep]:
        steps: list[EscalationStep] = []
        due = started_at
        for cycle in range(1 + self.repeats):
            for index, level in enumerate(self.levels):
                steps.append(EscalationStep(len(steps), index, cycle, due, level.targets))
                due += level.timeout
        return steps

    def due(self, started_at: datetime, now: datetime) -> list[EscalationStep]:
        """Every step whose time has come; the caller remembers which it already sent."""
        return [s for s in self.steps(started_at) if s.due_at <= now]
