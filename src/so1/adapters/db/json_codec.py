"""The JSON that SO1 writes to its JSON columns, encoded by orjson (about 15 times faster than
the standard library's ``json``, which SQLAlchemy uses unless told otherwise): the intake
writer stores the labels, details and headers of thousands of alerts a second. The text is
the same JSON, in UTF-8 rather than with ``\\u`` escapes.

What orjson refuses still goes through ``json``, as before: an integer past 64 bits, a key
that is not a string, a string with a lone surrogate. Reading stays with ``json``: orjson
would read an integer past 64 bits as a float, and telling such a text apart costs more than
orjson saves."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)
