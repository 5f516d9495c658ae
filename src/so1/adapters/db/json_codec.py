"""The JSON that SO1 writes to its JSON columns, encoded by orjson (about 15 times faster than
the standard library's ``json``, which SQLAlchemy uses unless told otherwise): the intake
writer stores the labels, details and headers of thousands of alerts a second. The text is
the same JSON, in UTF-8 rather than with ``\\u`` escapes.

What orjson refuses still goes through ``json``, as before: an integer past 64 bits, a key
that is not a string, a string with a lone surrogate. Reading stays with ``json``: orjson
would read an integer past 64 bits as a float, and telling such a text apart costs more than
orjson saves.

Reading also folds what is nested past domain.json_limits.FOLD_DEPTH into JSON text (rows
stored before the input limits), and only walks a value to find out when its text holds
more than FOLD_DEPTH brackets: a count in C, where walking every label and detail read back
was a Python loop over each of them."""

from __future__ import annotations

import json
from typing import Any

import orjson

from so1.domain.json_limits import FOLD_DEPTH, fold_deep


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """``text``: SQLite's str, or psycopg's bytes (a memoryview for JSONB)."""
    raw = bytes(text) if isinstance(text, memoryview) else text
    value = json.loads(raw)
    return fold_deep(value) if _brackets(raw) > FOLD_DEPTH else value


def _brackets(raw: str | bytes | bytearray) -> int:
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")
