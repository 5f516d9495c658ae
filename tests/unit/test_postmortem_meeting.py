"""When the postmortem review meeting is: a working day in the team's zone, inside the
configured hours, at least a day after resolution."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from so1.services.postmortem.meeting import meeting_time


@pytest.mark.parametrize(
    ("resolved", "zone", "hours", "expected"),
    [
        # Friday afternoon in New York → Monday at the start of the hours
        (datetime(2024, 1, 19, 20, 30, tzinfo=UTC), "America/New_York", (10, 16), (0, 10)),
        # Wednesday 08:10 in Berlin → Thursday 10:00 (before the hours, so their start)
        (datetime(2024, 1, 17, 7, 10, tzinfo=UTC), "Europe/Berlin", (10, 16), (3, 10)),
        # Wednesday 13:20 in Berlin → Thursday 14:00 (the next whole hour)
        (datetime(2024, 1, 17, 12, 20, tzinfo=UTC), "Europe/Berlin", (10, 16), (3, 14)),
        # Wednesday 15:05 in Berlin → 16:00 would end after 16: Friday 10:00
        (datetime(2024, 1, 17, 14, 5, tzinfo=UTC), "Europe/Berlin", (10, 16), (4, 10)),
        # the whole day allowed: Saturday noon → Monday 00:00, never Sunday
        (datetime(2024, 1, 20, 12, 0, tzinfo=UTC), "UTC", (0, 24), (0, 0)),
        # Friday before the switch to summer time → Monday 10:00 CEST
        (datetime(2024, 3, 29, 17, 0, tzinfo=UTC), "Europe/Berlin", (10, 16), (0, 10)),
    ],
)
def test_the_meeting_slot(
    resolved: datetime, zone: str, hours: tuple[int, int], expected: tuple[int, int]
) -> None:
    start = meeting_time(resolved, zone, hours)
    assert (start.weekday(), start.hour, start.minute) == (*expected, 0)
    assert (start - resolved).total_seconds() >= 24 * 3600
    assert str(start.tzinfo) == zone


def test_summer_time_is_the_teams_wall_clock() -> None:
    start = meeting_time(datetime(2024, 3, 29, 17, 0, tzinfo=UTC), "Europe/Berlin", (10, 16))
    assert start.astimezone(UTC) == datetime(2024, 4, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST
