"""A metric value read against its threshold, the way the runbook writes thresholds: as the
healthy condition ("< 1%": healthy below 1%, so 12% breaches it).

The written operator decides the direction, whatever the metric is called. Only a threshold
with no operator ("0", "500ms") needs a direction assumed: the side the value is on, since the
alert fired (a metric name that suggests the opposite is said in the reading). Every reading
says in words how it was read (``Breach.reading``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from so1.agents.triage.values import RANGE, Quantity, Threshold, align_units, show

RATIO_CAP = 1000.0
HEALTHY_WORDS = {
    "<": "below",
    "<=": "at or below",
    ">": "above",
    ">=": "at or above",
    "==": "equal to",
    "!=": "anything but",
}

BreachState = Literal["breached", "within", "unknown"]


@dataclass(frozen=True, slots=True)
class Breach:
    """How a value stands against its threshold: ``ratio`` is how far past it (1 = at it;
    None when the distance means nothing, e.g. against 0 or an equality), ``reading`` how the
    threshold was read, ``note`` why no comparison was possible."""

    state: BreachState
    ratio: float | None = None
    note: str = ""
    reading: str = ""


@dataclass(frozen=True, slots=True)
class Direction:
    """The bad side of a limit when no operator says it, and why it was chosen."""

    higher_is_worse: bool
    why: str


def compare(
    value: Quantity | None, threshold: Threshold | None, assumed: Direction | None = None
) -> Breach:
    """``value`` against ``threshold``; ``assumed`` is used only when no operator is written."""
    if value is None or threshold is None:
        return Breach("unknown", note="no comparable value and threshold")
    aligned = align_units(value, threshold.limit)
    if aligned is None:
        note = f"units differ ({value.unit or 'none'} vs {threshold.limit.unit or 'none'})"
        return Breach("unknown", note=note)
    val, limit = aligned
    if threshold.op == RANGE and threshold.high is not None:
        return _range(val, limit, threshold.high, threshold.text)
    if threshold.op in ("==", "!="):
        bad = (val.value != limit.value) if threshold.op == "==" else (val.value == limit.value)
        return Breach(_state(bad), None, reading=_said(threshold, val, bad))
    if threshold.op is not None:
        worse_up = threshold.op in ("<", "<=")
        bad = _past(val.value, limit.value, worse_up, strict=threshold.op in ("<", ">"))
        ratio = _ratio(val.value, limit.value, worse_up, val.unit)
        return Breach(_state(bad), ratio, reading=_said(threshold, val, bad))
    direction = _value_side(val, limit)
    ratio = _ratio(val.value, limit.value, direction.higher_is_worse, val.unit)
    side = "higher" if direction.higher_is_worse else "lower"
    reading = (
        f'threshold "{threshold.text}" has no operator: assumed {side} is worse because '
        f"{direction.why}; {show(val)} breaches it"
    )
    if assumed is not None and assumed.higher_is_worse != direction.higher_is_worse:
        reading += f" (though {assumed.why.replace(' says so', ' suggests the opposite')})"
    return Breach("breached", ratio, reading=reading)


def _value_side(value: Quantity, limit: Quantity) -> Direction:
    if value.value >= limit.value:
        why = f"the alert fired with {show(value)} at or above {show(limit)}"
        return Direction(True, why)
    return Direction(False, f"the alert fired with {show(value)} below {show(limit)}")


def _past(value: float, limit: float, worse_up: bool, *, strict: bool) -> bool:
    """Whether the value is on the bad side. ``strict`` (``<``, ``>``): the limit itself is
    already bad; otherwise (``<=``, ``>=``, no operator) it is still healthy."""
    if worse_up:
        return value > limit or (strict and value == limit)
    return value < limit or (strict and value == limit)


def _range(value: Quantity, low: Quantity, high: Quantity, text: str) -> Breach:
    aligned = align_units(value, high)
    if aligned is None:
        return Breach("unknown", note=f"units differ ({value.unit} vs {high.unit})")
    top = aligned[1]
    inside = low.value <= value.value <= top.value
    healthy = f"healthy from {show(low)} to {show(top)}"
    if inside:
        return Breach("within", None, reading=f'threshold "{text}": {healthy}; {show(value)} is')
    worse_up = value.value > top.value
    bound = top if worse_up else low
    ratio = _ratio(value.value, bound.value, worse_up, value.unit)
    side = "above" if worse_up else "below"
    reading = f'threshold "{text}": {healthy}; {show(value)} breaches it ({side} the range)'
    return Breach("breached", ratio, reading=reading)


def _said(threshold: Threshold, value: Quantity, bad: bool) -> str:
    op = threshold.op or ""
    limit = show(threshold.limit)
    verdict = "breaches it" if bad else "is inside it"
    return (
        f'threshold "{threshold.text}" read as the healthy condition (operator {op}): '
        f"healthy {HEALTHY_WORDS.get(op, '')} {limit}; {show(value)} {verdict}"
    )


def _state(bad: bool) -> BreachState:
    return "breached" if bad else "within"


def _ratio(value: float, limit: float, worse_up: bool, unit: str) -> float | None:
    """How far past the limit, as a factor (1 at the limit). Against 0 it means nothing (None).
    Percentages that should stay high compare their shortfalls from 100%, so 99% against 99.9%
    is 10x; other values below a positive limit compare limit / value; negative numbers compare
    the distance with the limit's size, so -12000 against -100 is 120x."""
    if limit == 0:
        return None
    if worse_up:
        factor = value / limit if limit > 0 and value >= 0 else 1 + (value - limit) / abs(limit)
    elif unit == "%" and 0 <= limit < 100 and value <= 100:
        factor = (100 - value) / (100 - limit)
    elif limit > 0 and value > 0:
        factor = limit / value
    elif limit > 0:
        factor = RATIO_CAP
    else:
        factor = 1 + (limit - value) / abs(limit)
    return min(max(factor, 0.0), RATIO_CAP)
