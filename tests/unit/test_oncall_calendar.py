"""Shifts as a calendar in the schedule's time zone: day boundaries at local midnight (also on
the day the clocks change), overrides marked, uncovered hours shown."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from so1.domain.oncall import Shift
from so1.domain.oncall_calendar import CalendarDay, calendar_weeks, first_monday

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def utc(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


# Berlin moves from UTC+1 to UTC+2 at 02:00 local on Sunday 31 March 2024.
SHIFTS = [
    Shift("ana", "layer weekly", utc(24, 23), utc(27, 11)),  # from Monday 00:00 local
    Shift("bo", "override", utc(27, 11), utc(27, 17)),  # Wednesday 12:00-18:00 local
    Shift("ana", "layer weekly", utc(27, 17), utc(1, 7, month=4)),  # until Monday 09:00 CEST
    Shift("cy", "layer weekly", utc(1, 7, month=4), utc(3, 7, month=4)),
    Shift(None, "nobody", utc(3, 7, month=4), utc(8, 0, month=4)),
]


def slots(day: CalendarDay) -> list[tuple[str | None, str, str, bool]]:
    return [(s.handle, s.starts, s.ends, s.override) for s in day.slots]


def test_two_weeks_from_monday_in_the_schedules_time_zone() -> None:
    now = utc(27, 14)  # Wednesday afternoon
    start = first_monday(now, BERLIN)
    assert start == datetime(2024, 3, 25, tzinfo=BERLIN)
    weeks = calendar_weeks(SHIFTS, BERLIN, start, 2, now)
    assert [len(w) for w in weeks] == [7, 7]
    monday, wednesday, sunday = weeks[0][0], weeks[0][2], weeks[0][6]
    assert slots(monday) == [("ana", "00:00", "24:00", False)]
    assert slots(wednesday) == [
        ("ana", "00:00", "12:00", False),
        ("bo", "12:00", "18:00", True),
        ("ana", "18:00", "24:00", False),
    ]
    assert wednesday.today and not monday.today
    assert slots(sunday) == [("ana", "00:00", "24:00", False)]  # the 23-hour day
    next_monday = weeks[1][0]
    assert slots(next_monday) == [("ana", "00:00", "09:00", False), ("cy", "09:00", "24:00", False)]
    assert slots(weeks[1][2])[-1] == (None, "09:00", "24:00", False)  # uncovered from Wednesday
    assert weeks[1][6].day.isoformat() == "2024-04-07"


def test_a_sunday_evening_belongs_to_the_week_that_started_on_monday() -> None:
    sunday_night_utc = utc(31, 21)  # 23:00 CEST, still Sunday in Berlin; Monday in Tokyo
    assert first_monday(sunday_night_utc, BERLIN).date().isoformat() == "2024-03-25"
    assert first_monday(sunday_night_utc, ZoneInfo("Asia/Tokyo")).date().isoformat() == "2024-04-01"


def test_one_person_through_several_layers_is_one_slot() -> None:
    day = [
        Shift("dee", "layer nights", utc(4, 0), utc(4, 9)),
        Shift("dee", "layer office-hours", utc(4, 9), utc(4, 17)),
        Shift("bo", "layer nights", utc(4, 17), utc(5, 0)),
    ]
    start = first_monday(utc(4, 12), UTC_ZONE)
    [monday, *_] = calendar_weeks(day, UTC_ZONE, start, 1, utc(4, 12))[0]
    assert slots(monday) == [("dee", "00:00", "17:00", False), ("bo", "17:00", "24:00", False)]
    assert monday.slots[0].via == "layer nights, layer office-hours"
