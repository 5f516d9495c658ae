"""Shifts laid out as a calendar: weeks from Monday, each day with who is on call when, in the
schedule's own time zone (DST-safe: a day is from one local midnight to the next), pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from so1.domain.oncall import Shift


@dataclass(frozen=True, slots=True)
class DaySlot:
    handle: str | None  # None: nobody is on call
    via: str  # "override", "layer <name>" or "nobody"
    starts: str  # "00:00"
    ends: str  # "09:00"; "24:00" when it runs past midnight

    @property
    def override(self) -> bool:
        return self.via == "override"


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    today: bool
    slots: tuple[DaySlot, ...]


def first_monday(now: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight of the Monday of ``now``'s week."""
    local = now.astimezone(zone).date()
    return _midnight(local - timedelta(days=local.weekday()), zone)


def calendar_weeks(
    shifts: Sequence[Shift], zone: ZoneInfo, start: datetime, weeks: int, now: datetime
) -> list[list[CalendarDay]]:
    """``weeks`` rows of seven days from ``start`` (a local midnight, see first_monday)."""
    today = now.astimezone(zone).date()
    first = start.astimezone(zone).date()
    days = [_day(first + timedelta(days=n), shifts, zone, today) for n in range(weeks * 7)]
    return [days[w * 7 : (w + 1) * 7] for w in range(weeks)]


def _day(day: date, shifts: Sequence[Shift], zone: ZoneInfo, today: date) -> CalendarDay:
    begin, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    slots: list[DaySlot] = []
    for s in shifts:
        if s.starts_at >= end or s.ends_at <= begin:
            continue
        ends = "24:00" if s.ends_at >= end else _clock(s.ends_at, zone)
        last = slots[-1] if slots else None
        if last and (last.handle, last.override) == (s.handle, s.via == "override"):
            via = last.via if s.via in last.via.split(", ") else f"{last.via}, {s.via}"
            slots[-1] = DaySlot(last.handle, via, last.starts, ends)  # one person, several layers
        else:
            slots.append(DaySlot(s.handle, s.via, _clock(max(s.starts_at, begin), zone), ends))
    return CalendarDay(day, day == today, tuple(slots))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _clock(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")
