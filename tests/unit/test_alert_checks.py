"""The lean route's hand-written checks against the Pydantic model they stand in for: a body
they accept, the model accepts and reads the same way; a body the model refuses, they refuse."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from so1.entrypoints.api.alert_checks import CheckedAlert, accepted_alert, parsed_json
from so1.entrypoints.api.intake_schemas import AlertIn

GOOD: dict[str, Any] = {
    "event_action": "trigger",
    "source": "prometheus",
    "dedup_key": "db-1:HighLatency",
    "service": "checkout",
    "metric": "p99_ms",
    "current_value": 812.5,
    "threshold": "< 300",
    "summary": "p99 above 300 ms",
    "severity": "critical",
    "timestamp": "2024-01-15T14:40:00+01:00",
    "details": {"env": "prod", "nested": {"a": [1, 2.5, None, True]}},
    "labels": {"team": "payments"},
    "test": False,
}


def model_or_none(raw: bytes) -> AlertIn | None:
    try:
        return AlertIn.model_validate_json(raw)
    except ValidationError:
        return None


def checked(raw: bytes) -> CheckedAlert | None:
    document = parsed_json(raw)
    return None if document is None else accepted_alert(document)


def test_a_full_body_reads_as_the_model_reads_it() -> None:
    raw = json.dumps(GOOD).encode()
    lean = checked(raw)
    assert lean is not None
    assert asdict(lean) == AlertIn.model_validate_json(raw).model_dump()


def test_the_fewest_fields_get_the_model_defaults() -> None:
    raw = b'{"event_action":"resolve","dedup_key":"k","source":"s"}'
    lean = checked(raw)
    assert lean is not None
    assert asdict(lean) == AlertIn.model_validate_json(raw).model_dump()


REFUSED_BY_THE_MODEL = {
    "unknown field": {**GOOD, "colour": "red"},
    "no source": {k: v for k, v in GOOD.items() if k != "source"},
    "source null": {**GOOD, "source": None},
    "empty source": {**GOOD, "source": ""},
    "long source": {**GOOD, "source": "s" * 101},
    "long dedup_key": {**GOOD, "dedup_key": "k" * 256},
    "empty dedup_key": {**GOOD, "dedup_key": ""},
    "long summary": {**GOOD, "summary": "x" * 1025},
    "trigger without summary": {k: v for k, v in GOOD.items() if k != "summary"},
    "resolve without dedup_key": {"event_action": "resolve", "source": "s"},
    "unknown action": {**GOOD, "event_action": "explode"},
    "unknown severity": {**GOOD, "severity": "SEV1"},
    "number as summary": {**GOOD, "summary": 5},
    "details a list": {**GOOD, "details": [1]},
    "details null": {**GOOD, "details": None},
    "label not text": {**GOOD, "labels": {"team": 1}},
    "test as text": {**GOOD, "test": "maybe"},
    "NUL in summary": {**GOOD, "summary": "a\x00b"},
    "naive timestamp": {**GOOD, "timestamp": "2024-01-15T14:40:00"},
    "timestamp not a date": {**GOOD, "timestamp": "yesterday"},
    "details too deep": {**GOOD, "details": json.loads("[" * 40 + "]" * 40)},
    "current_value an object": {**GOOD, "current_value": {"v": 1}},
}


@pytest.mark.parametrize("body", REFUSED_BY_THE_MODEL.values(), ids=REFUSED_BY_THE_MODEL.keys())
def test_what_the_model_refuses_is_declined(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    assert model_or_none(raw) is None  # the case is a real refusal
    assert checked(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_action":"resolve","dedup_key":"k","source":"s","current_value":NaN}',
        b'{"event_action":"resolve","dedup_key":"k","source":"s","details":{"n":1'
        + b"0" * 30
        + b"}}",
        b'["not", "an", "object"]',
        b'{"event_action": "resolve",',
        b"",
    ],
    ids=["NaN", "integer past 64 bits", "a list", "cut short", "empty"],
)
def test_json_orjson_would_read_differently_is_left_to_the_model(raw: bytes) -> None:
    assert parsed_json(raw) is None


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.sampled_from(["trigger", "resolve", "acknowledge", "info", "2024-01-15T14:40:00Z"]),
    st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*GOOD.keys(), "extra"]), VALUES, min_size=1, max_size=len(GOOD)
    ),
    st.booleans(),
)
def test_never_more_lenient_than_the_model(body: dict[str, Any], from_good: bool) -> None:
    raw = json.dumps({**GOOD, **body} if from_good else body).encode()
    lean = checked(raw)
    if lean is not None:
        model = model_or_none(raw)
        assert model is not None, raw
        assert asdict(lean) == model.model_dump()


def test_the_checked_alert_has_the_model_fields() -> None:
    assert {f.name for f in fields(CheckedAlert)} == set(AlertIn.model_fields)
