"""Records as plain JSON-able data (dicts, lists, ISO-8601 times, enum values)."""

from __future__ import annotations

import enum
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any


def plain(value: Any) -> Any:
    """``value`` as JSON-able data; a dataclass becomes a dict of its fields (read in place,
    without the deep copy ``dataclasses.asdict`` makes first)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _fields(value) if is_dataclass(value) and not isinstance(value, type) else str(value)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: plain(getattr(record, f.name)) for f in fields(record)}
