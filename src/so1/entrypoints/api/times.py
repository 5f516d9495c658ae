"""Time parameters: only instants between 1970 and 9000, so date arithmetic and the stores
never overflow (the fuzz test found the year-1 case)."""

from __future__ import annotations

from datetime import UTC, datetime

from so1.errors import ValidationFailed

EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def instant(value: datetime | None, name: str) -> datetime | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValidationFailed(f"'{name}' is out of range (1970 to 9000)", field=name)
    return value
