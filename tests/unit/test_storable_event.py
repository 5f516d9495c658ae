"""Text no database can store (NUL, lone surrogates) is replaced wherever it sits in an
event; an event with none is given back as it is."""

from __future__ import annotations

from typing import Any

import pytest

from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, storable, storable_event


def event(**fields: Any) -> AlertEvent:
    values: dict[str, Any] = {"dedup_key": "k", "summary": "disk full"} | fields
    return AlertEvent(AlertSource.EVENTS, AlertAction.TRIGGER, **values)


def test_an_event_with_nothing_to_replace_is_given_back_as_it_is() -> None:
    clean = event(
        summary="Plattenplatz: 95 % — voll",
        labels={"team": "paiements", "région": "eu"},
        details={"values": [1, None, {"deep": ["ok", 2.5]}], "flag": True},
        links=[{"href": "https://example.test/ü"}],
    )
    assert storable_event(clean) is clean


@pytest.mark.parametrize(
    "fields",
    [
        {"summary": "bad\x00byte"},
        {"dedup_key": "lone\ud800surrogate"},
        {"threshold": "é\x00"},
        {"labels": {"k\x00": "v"}},
        {"labels": {"k": "v\udfff"}},
        {"details": {"a": [1, {"b": ["fine", "no\x00t"]}]}},
        {"details": {"a": [[["\ud83d"]]]}},
        {"links": [{"href": "x", "text": "y\x00"}]},
    ],
)
def test_text_that_cannot_be_stored_is_replaced_wherever_it_is(fields: dict[str, Any]) -> None:
    given = event(**fields)
    stored = storable_event(given)
    assert stored != given
    for name, value in fields.items():
        assert getattr(stored, name) == storable(value) != value
