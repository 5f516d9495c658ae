"""Hand-written checks of a `POST /v1/alerts` body, for the lean intake route.

``accepted_alert`` answers an ``AlertIn`` only for a body that ``AlertIn`` itself accepts and
reads the same way; for anything else (a bad field, or merely an unusual form such as an
integer ``current_value`` or a timestamp not in RFC 3339) it answers None, and the lean route
hands the request to the FastAPI route, whose Pydantic model gives today's answer. So every
bad input gets exactly the problem JSON it always had, and the checks here stay short: they
only need to be at least as strict as the model, never more lenient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from so1.domain.json_limits import json_problem, storable_text
from so1.entrypoints.api.intake_schemas import AlertIn

ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
SEVERITIES = frozenset({"critical", "error", "warning", "info"})
# (field, shortest, longest) for the optional text fields; source is required.
_TEXTS = (
    ("dedup_key", 1, 255),
    ("source", 1, 100),
    ("service", 1, 100),
    ("metric", 0, 200),
    ("threshold", 0, 100),
    ("summary", 1, 1024),
)
FIELDS = frozenset(AlertIn.model_fields)
_LONG_DIGITS = re.compile(rb"\d{19}")
# RFC 3339 with a zone: a form Pydantic's AwareDatetime and datetime.fromisoformat read alike.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z", re.ASCII
)


@dataclass(frozen=True, slots=True)
class CheckedAlert:
    """An ``AlertIn`` without Pydantic: the same fields, built only from checked values."""

    event_action: Literal["trigger", "acknowledge", "resolve"]
    source: str
    dedup_key: str | None = None
    service: str | None = None
    metric: str | None = None
    current_value: str | float | None = None
    threshold: str | None = None
    summary: str | None = None
    severity: Literal["critical", "error", "warning", "info"] | None = None
    timestamp: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    test: bool = False


def parsed_json(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not JSON, not an object, or a form orjson
    refuses such as NaN): the FastAPI route then answers as it always did.

    orjson reads an integer beyond 64 bits as a float, which would change what is stored:
    a body with a run of 19 digits or more (wherever it is) is left to the standard library."""
    if _LONG_DIGITS.search(raw):
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def accepted_alert(document: dict[str, Any]) -> CheckedAlert | None:
    """The body as ``AlertIn`` would read it when every check passes, else None (see the
    module doc)."""
    timestamp = _timestamp(document.get("timestamp"))
    if timestamp is False or not _fits(document):
        return None
    fields = {**document, "timestamp": timestamp} if timestamp is not None else document
    return CheckedAlert(**fields)


def _fits(document: dict[str, Any]) -> bool:
    action = document.get("event_action")
    return (
        document.keys() <= FIELDS
        and type(document.get("source")) is str
        and all(_storable(value, name) for name, value in document.items())
        and _texts_fit(document)
        and _choices_fit(document)
        and _others_fit(document)
        and (action != "trigger" or bool(document.get("summary")))
        and (action == "trigger" or bool(document.get("dedup_key")))
    )


def _storable(value: object, name: str) -> bool:
    """What the model's json_problem check lets through (text alone is checked quickly)."""
    if type(value) is str:
        return storable_text(value)
    return type(value) in (bool, type(None)) or json_problem(value, name) is None


def _texts_fit(document: dict[str, Any]) -> bool:
    for name, shortest, longest in _TEXTS:
        value = document.get(name)
        if value is None:
            continue
        if type(value) is not str or not shortest <= len(value) <= longest:
            return False
    return True


def _choices_fit(document: dict[str, Any]) -> bool:
    action = document.get("event_action")
    severity = document.get("severity")
    return (
        type(action) is str
        and action in ACTIONS
        and (severity is None or (type(severity) is str and severity in SEVERITIES))
    )


def _others_fit(document: dict[str, Any]) -> bool:
    value = document.get("current_value")
    labels = document.get("labels", {})
    return (
        (value is None or type(value) in (str, float))
        and type(document.get("details", {})) is dict
        and type(labels) is dict
        and all(type(label) is str for label in labels.values())
        and type(document.get("test", False)) is bool
    )


def _timestamp(value: object) -> datetime | bool | None:
    """The aware timestamp, None when absent, False when not in the one form read here."""
    if value is None:
        return None
    if type(value) is not str or _RFC3339.match(value) is None:
        return False
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return False
