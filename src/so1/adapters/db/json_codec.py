"""The JSON of SO1's JSON columns, written and read with orjson (several times faster than the
standard library's ``json``, which SQLAlchemy uses unless told otherwise; the intake writer
stores the labels, details and headers of thousands of alerts a second, and the triage pass
reads them back). The text is the same JSON, in UTF-8 rather than with ``\\u`` escapes.

What orjson refuses and ``json`` accepts still goes through ``json``, as before: an integer
past 64 bits, a key that is not a string, a string with a lone surrogate, the ``NaN`` of a
row written before the input limits."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """``text``: SQLite's str, or psycopg's bytes (a memoryview for JSONB)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(bytes(text) if isinstance(text, memoryview) else text)
