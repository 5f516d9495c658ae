"""The JSON columns' encoder: orjson's text reads back as the same value, and what orjson
refuses is written as the standard library writes it."""

from __future__ import annotations

import json

import pytest

from so1.adapters.db import json_codec
from so1.domain.json_limits import FOLD_DEPTH, fold_deep

VALUES = [
    {"labels": {"env": "prod", "név": "çà ✓"}, "n": [1, 2.5, None, True, "x"]},
    {},
    [],
    "just text",
    0,
]


@pytest.mark.parametrize("value", VALUES)
def test_a_value_comes_back_as_it_went(value: object) -> None:
    assert json.loads(json_codec.dumps(value)) == value


@pytest.mark.parametrize(
    "value",
    [{"big": 2**70}, {1: "int key"}, {"surrogate": "\ud800"}],
    ids=["big integer", "non-string key", "lone surrogate"],
)
def test_what_orjson_refuses_is_written_as_json_writes_it(value: object) -> None:
    assert json_codec.dumps(value) == json.dumps(value)


def test_the_text_is_orjsons_compact_utf8() -> None:
    assert json_codec.dumps({"k": "é", "n": [1, 2]}) == '{"k":"é","n":[1,2]}'


def test_reading_folds_only_what_is_nested_past_the_fold_depth() -> None:
    shallow = {"labels": {"a": [1, {"b": 2}]}, "big": 10**30}
    for text in (json.dumps(shallow), json.dumps(shallow).encode()):
        assert json_codec.loads(text) == shallow
    assert json_codec.loads(memoryview(json.dumps(shallow).encode())) == shallow
    deep: object = "bottom"
    for _ in range(FOLD_DEPTH + 5):
        deep = [deep]
    read = json_codec.loads(json.dumps({"d": deep}))
    assert read == fold_deep({"d": deep}) != {"d": deep}
    # many brackets side by side are not depth: walked, and given back whole
    wide = {"rows": [[n] for n in range(FOLD_DEPTH * 2)]}
    assert json_codec.loads(json.dumps(wide)) == wide
