"""The quick yes of ``json_limits.json_problem`` for an object of strings agrees with the full
walk: it never lets through what the walk would refuse."""

from __future__ import annotations

from hypothesis import given, strategies as st

from so1.domain.json_limits import MAX_BYTES, flat_text, json_problem, walked_problem

# Any code point, lone surrogates and NUL included: what the checks must catch.
TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
FLAT = st.dictionaries(TEXT, TEXT, max_size=8)


@given(FLAT, st.booleans())
def test_a_quick_yes_is_a_yes_of_the_full_walk(value: dict[str, str], text: bool) -> None:
    if flat_text(value, text):
        assert walked_problem(value, "details", text=text) is None
    assert json_problem(value, "details", text=text) == walked_problem(value, "details", text=text)


def test_text_the_databases_cannot_store_is_refused_by_name() -> None:
    for bad in ("nul\x00", "lone \ud800"):
        assert not flat_text({"k": bad}, True)
        assert json_problem({"k": bad}, "labels") == (
            "labels.k contains a NUL character or a lone surrogate"
        )
        assert flat_text({"k": bad}, False)  # vendor payloads: replaced later, not refused


def test_a_flat_object_past_the_size_limit_takes_the_walk() -> None:
    big = {"k": "x" * (MAX_BYTES // 6)}
    assert not flat_text(big, True)
    assert json_problem(big, "details") is None  # its JSON still fits
    huge = {"k": "x" * (MAX_BYTES + 1)}
    assert json_problem(huge, "details") == "details is larger than 512 KiB of JSON"


def test_anything_but_an_object_of_strings_takes_the_walk() -> None:
    for value in ({"n": 1.5}, {"n": float("nan")}, {"a": {"b": "c"}}, ["x"], "x", None):
        assert not flat_text(value, True)
    assert json_problem({"n": float("nan")}, "details") is not None
