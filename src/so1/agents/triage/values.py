"""Metric values and thresholds for triage: parse "12%", "< 1%", "500ms", ">= 0.9", compare.

A threshold's number is the limit; which side of it is bad comes from the metric (error rates
and latencies are worse higher, availability and free space worse lower) and, when the metric
is unknown, from the operator read as the healthy condition ("< 1%": healthy below 1%).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "=")
RATIO_CAP = 1000.0

_NUMBER = re.compile(
    r"^(?P<op><=|>=|==|!=|<|>|=)?\s*"
    r"(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
    r"(?P<unit>[^\s\d][^\s]*)?$"
)
_LEADING_NAME = re.compile(r"^[A-Za-z_][\w.]*\s*(?=[<>=!])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")

# unit suffix -> (canonical unit, multiplier into that unit)
_UNITS: dict[str, tuple[str, float]] = {
    "%": ("%", 1.0),
    "pct": ("%", 1.0),
    "percent": ("%", 1.0),
    "ns": ("ms", 1e-6),
    "us": ("ms", 1e-3),
    "µs": ("ms", 1e-3),
    "ms": ("ms", 1.0),
    "s": ("ms", 1e3),
    "sec": ("ms", 1e3),
    "secs": ("ms", 1e3),
    "seconds": ("ms", 1e3),
    "m": ("ms", 6e4),
    "min": ("ms", 6e4),
    "mins": ("ms", 6e4),
    "minutes": ("ms", 6e4),
    "h": ("ms", 3.6e6),
    "hr": ("ms", 3.6e6),
    "hrs": ("ms", 3.6e6),
    "hours": ("ms", 3.6e6),
    "d": ("ms", 8.64e7),
    "days": ("ms", 8.64e7),
    "b": ("B", 1.0),
    "kb": ("B", 1024.0),
    "kib": ("B", 1024.0),
    "mb": ("B", 1024.0**2),
    "mib": ("B", 1024.0**2),
    "gb": ("B", 1024.0**3),
    "gib": ("B", 1024.0**3),
    "tb": ("B", 1024.0**4),
    "tib": ("B", 1024.0**4),
    "/s": ("/s", 1.0),
    "rps": ("/s", 1.0),
    "qps": ("/s", 1.0),
    "req/s": ("/s", 1.0),
    "ops/s": ("/s", 1.0),
    "/min": ("/s", 1 / 60),
    "rpm": ("/s", 1 / 60),
    "req/min": ("/s", 1 / 60),
    "/h": ("/s", 1 / 3600),
    "k": ("", 1e3),
    "x": ("x", 1.0),
}

BreachState = Literal["breached", "within", "unknown"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed value: a number in a canonical unit, with the operator it was written with."""

    value: float
    unit: str = ""
    op: str | None = None


@dataclass(frozen=True, slots=True)
class Breach:
    """How a value stands against its threshold; ``ratio`` is how far past it (>= 1 if over)."""

    state: BreachState
    ratio: float | None = None
    note: str = ""


def parse_quantity(raw: object, states: dict[str, float] | None = None) -> Quantity | None:
    """Parse a metric value or threshold; None when it is missing or not understood.

    ``states`` maps words such as "down" or "healthy" to numbers (health checks report words).
    """
    if raw is None or isinstance(raw, bool):
        return None if raw is None else Quantity(1.0 if raw else 0.0)
    if isinstance(raw, int | float):
        return Quantity(float(raw)) if math.isfinite(raw) else None
    if not isinstance(raw, str):
        return None
    text = _THOUSANDS.sub("", _LEADING_NAME.sub("", raw.strip()))
    word = text.lower()
    if states and word in states:
        return Quantity(states[word])
    match = _NUMBER.match(text)
    if match is None:
        return None
    number = float(match["num"])
    op = "==" if match["op"] == "=" else match["op"]
    suffix = (match["unit"] or "").lower()
    unit, factor = _UNITS.get(suffix, (suffix, 1.0))
    return Quantity(number * factor, unit, op) if math.isfinite(number) else None


def align_units(value: Quantity, limit: Quantity) -> tuple[Quantity, Quantity] | None:
    """The two quantities in one unit (a bare number takes the other's unit), or None."""
    if value.unit == limit.unit:
        return value, limit
    if not value.unit:
        return Quantity(value.value, limit.unit, value.op), limit
    if not limit.unit:
        return value, Quantity(limit.value, value.unit, limit.op)
    return None


def compare(value: Quantity | None, limit: Quantity | None, higher_is_worse: bool | None) -> Breach:
    """Compare a value with its threshold; ``higher_is_worse`` None falls back on the operator."""
    if value is None or limit is None:
        return Breach("unknown", note="no comparable value and threshold")
    aligned = align_units(value, limit)
    if aligned is None:
        return Breach("unknown", note=f"units differ ({value.unit} vs {limit.unit})")
    val, lim = aligned
    if lim.op in ("==", "!="):
        bad = (val.value != lim.value) if lim.op == "==" else (val.value == lim.value)
        return Breach("breached" if bad else "within", None)
    worse_up = higher_is_worse if higher_is_worse is not None else lim.op not in (">", ">=")
    if worse_up:
        over = val.value > lim.value or (val.value == lim.value and lim.op == "<")
    else:
        over = val.value < lim.value or (val.value == lim.value and lim.op == ">")
    if not over:
        return Breach("within", _ratio(val.value, lim.value, worse_up, val.unit))
    return Breach("breached", _ratio(val.value, lim.value, worse_up, val.unit))


def _ratio(value: float, limit: float, worse_up: bool, unit: str) -> float:
    """Distance past the limit as a factor; for percentages that should stay high (success,
    availability) it compares the shortfalls from 100%, so 99% against 99.9% is 10x."""
    if worse_up:
        num, den = value, limit
    elif unit == "%" and limit < 100 and value <= 100:
        num, den = 100 - value, 100 - limit
    else:
        num, den = limit, value
    if den <= 0:
        return RATIO_CAP if num > 0 else 1.0
    return min(num / den, RATIO_CAP)


def format_number(value: float) -> str:
    """A compact number for messages: 12, 0.62, 4.5."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
