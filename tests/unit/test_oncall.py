"""On-call schedules: rotations, layers, restrictions, overrides, time off, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

from so1.domain.oncall import (
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Restriction,
    Schedule,
    Target,
    Window,
)

WEEK = timedelta(days=7)
MONDAY_9 = datetime(2026, 1, 5, 9, 0)  # a Monday, local wall-clock time


def weekly(zone: str = "UTC", *extra: Layer) -> Schedule:
    layer = Layer("weekly", ("alice", "bob", "carol"), MONDAY_9, WEEK)
    return Schedule("backend-primary", zone, (layer, *extra), team="backend")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_rotation_hands_over_every_shift_in_member_order() -> None:
    schedule = weekly()
    assert schedule.on_call(utc(2026, 1, 5, 9, 0)).handle == "alice"
    assert schedule.on_call(utc(2026, 1, 12, 8, 59)).handle == "alice"
    assert schedule.on_call(utc(2026, 1, 12, 9, 0)).handle == "bob"
    assert schedule.on_call(utc(2026, 1, 26, 9, 0)).handle == "alice"  # wrapped around
    assert schedule.on_call(utc(2026, 1, 5, 8, 0)).handle is None  # before the rotation


def test_handoff_stays_at_local_nine_across_daylight_saving() -> None:
    schedule = weekly("Europe/Berlin")
    # Berlin is UTC+1 until 29 March 2026, UTC+2 after: the shift that began on 23 March at
    # 09:00 CET (08:00 UTC) ends on 30 March at 09:00 CEST, which is 07:00 UTC.
    week = schedule.on_call(utc(2026, 3, 23, 8, 0)).handle
    assert schedule.on_call(utc(2026, 3, 23, 7, 59)).handle != week
    assert schedule.on_call(utc(2026, 3, 30, 6, 59)).handle == week
    assert schedule.on_call(utc(2026, 3, 30, 7, 0)).handle != week


def test_restricted_layer_covers_office_hours_over_the_base_layer() -> None:
    office = Restriction(frozenset(range(5)), time(9), time(17))
    day_layer = Layer("office", ("dave",), MONDAY_9, WEEK, (office,))
    schedule = weekly("UTC", day_layer)
    assert schedule.on_call(utc(2026, 1, 6, 10, 0)).handle == "dave"
    assert schedule.on_call(utc(2026, 1, 6, 18, 0)).handle == "alice"
    assert schedule.on_call(utc(2026, 1, 10, 10, 0)).handle == "alice"  # Saturday


def test_overnight_restriction_runs_past_midnight() -> None:
    night = Restriction(frozenset({0}), time(22), time(6))  # Monday 22:00 to Tuesday 06:00
    assert night.covers(datetime(2026, 1, 6, 5, 0))
    assert not night.covers(datetime(2026, 1, 7, 5, 0))
    assert night.covers(datetime(2026, 1, 5, 23, 0))


def test_override_wins_and_time_off_hands_to_the_next_in_rotation() -> None:
    swap = Window("erin", utc(2026, 1, 6), utc(2026, 1, 7), "swap")
    schedule = Schedule("p", "UTC", weekly().layers, overrides=(swap,))
    assert schedule.on_call(utc(2026, 1, 6, 12)).via == "override"
    assert schedule.on_call(utc(2026, 1, 6, 12)).handle == "erin"
    pto = [Window("alice", utc(2026, 1, 8), utc(2026, 1, 9), "PTO")]
    covered = schedule.on_call(utc(2026, 1, 8, 12), pto)
    assert (covered.handle, covered.skipped, covered.backups) == ("bob", ("alice",), ("carol",))


def test_shifts_lay_out_handoffs_overrides_and_merge_repeats() -> None:
    swap = Window("erin", utc(2026, 1, 13), utc(2026, 1, 14))
    schedule = Schedule("p", "UTC", weekly().layers, overrides=(swap,))
    shifts = schedule.shifts(utc(2026, 1, 5, 9), utc(2026, 1, 26, 9))
    assert [(s.handle, s.starts_at.day, s.ends_at.day) for s in shifts] == [
        ("alice", 5, 12),
        ("bob", 12, 13),
        ("erin", 13, 14),
        ("bob", 14, 19),
        ("carol", 19, 26),
    ]
    assert all(a.ends_at == b.starts_at for a, b in pairwise(shifts))


def test_escalation_steps_follow_levels_timeouts_and_repeats() -> None:
    policy = EscalationPolicy(
        "backend",
        (
            EscalationLevel((Target("schedule", "backend-primary"),), timedelta(minutes=5)),
            EscalationLevel((Target("person", "eng-lead"),), timedelta(minutes=10)),
        ),
        repeats=1,
    )
    start = utc(2026, 1, 5, 9)
    steps = policy.steps(start)
    assert [(s.level, s.cycle, int((s.due_at - start).total_seconds() // 60)) for s in steps] == [
        (0, 0, 0),
        (1, 0, 5),
        (0, 1, 15),
        (1, 1, 20),
    ]
    assert [s.number for s in policy.due(start, start + timedelta(minutes=6))] == [0, 1]
