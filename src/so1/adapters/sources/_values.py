"""Reading untrusted vendor JSON: typed accessors that treat anything unexpected as absent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from so1.errors import MalformedRequest


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; MalformedRequest (400) otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedRequest("body must be a JSON object")
    return document


def text(value: object) -> str | None:
    """A non-empty string, or an integer as text; anything else is treated as absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def iso_time(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 time, UTC when no zone is given; None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
