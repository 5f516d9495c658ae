"""The JSON columns' codec: orjson's text, the same values back, and what orjson refuses
written and read as the standard library would."""

from __future__ import annotations

import json
import math

import pytest

from so1.adapters.db import json_codec

VALUES = [
    {"labels": {"env": "prod", "név": "çà ✓"}, "n": [1, 2.5, None, True, "x"]},
    {},
    [],
    "just text",
    0,
]


@pytest.mark.parametrize("value", VALUES)
def test_a_value_comes_back_as_it_went(value: object) -> None:
    text = json_codec.dumps(value)
    assert json.loads(text) == value
    assert json_codec.loads(text) == value
    assert json_codec.loads(text.encode()) == value
    assert json_codec.loads(memoryview(text.encode())) == value


@pytest.mark.parametrize(
    "value",
    [{"big": 2**70}, {1: "int key"}, {"surrogate": "\ud800"}],
    ids=["big integer", "non-string key", "lone surrogate"],
)
def test_what_orjson_refuses_is_written_as_json_writes_it(value: object) -> None:
    text = json_codec.dumps(value)
    assert text == json.dumps(value)
    assert json_codec.loads(text) == json.loads(text)


def test_text_only_json_reads_is_read_as_json_reads_it() -> None:
    """A row from before the input limits may hold NaN, or a 70-bit integer."""
    for text in ('{"v": NaN}', '{"v": 1180591620717411303424}'):
        found, expected = json_codec.loads(text), json.loads(text)
        assert found.keys() == expected.keys()
        if isinstance(expected["v"], float):
            assert math.isnan(found["v"])
        else:
            assert found == expected
    assert json_codec.loads(memoryview(b'{"v": NaN}'))["v"] != 0
