"""Metric values and thresholds as written by monitors: "12%", "0.75s", "-12000", "480 req/s",
"< 1%", ">= 99.9%", "p99 < 500ms", "10-20", "between 2min and 5min".

Numbers are converted into one unit per kind so they compare: time in ms, size in bytes,
rates per second (``/s``, or ``B/s`` for sizes), percentages as ``%``. A bare number takes the
unit of what it is compared with. ``thresholds`` reads a value against a parsed threshold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
RANGE = "range"
MAX_TEXT = 200  # longer values and thresholds are not numbers; never scanned further

_SIGNED = r"[-+\u2212]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = rf"(?P<num>{_SIGNED})\s*(?P<unit>[^\s\d<>=!,;()\[\]][^\s,;()\[\]]*)?"
_NUMBER = re.compile(rf"^{_QUANTITY}$")
_OPERATOR = re.compile(r"^(?P<op><=|>=|==|!=|=<|=>|<|>|=|≤|≥|≠)\s*(?P<rest>.+)$")
_SPELLED = {"=<": "<=", "=>": ">=", "=": "==", "≤": "<=", "≥": ">=", "≠": "!="}
_WORDS = re.compile(
    r"^(?P<word>at most|no more than|at least|no less than|less than|below|under|"
    r"more than|greater than|above|over|not equal to|equal to|equals)\s+",
    re.IGNORECASE,
)
_WORD_OPS = {
    "at most": "<=",
    "no more than": "<=",
    "at least": ">=",
    "no less than": ">=",
    "less than": "<",
    "below": "<",
    "under": "<",
    "more than": ">",
    "greater than": ">",
    "above": ">",
    "over": ">",
    "not equal to": "!=",
    "equal to": "==",
    "equals": "==",
}
_RANGE = re.compile(
    rf"^(?:between\s+)?\[?\s*(?P<a>{_SIGNED}\s*[^\s\d,;\]\-\u2013.]*)\s*"
    rf"(?:-|\u2013|\.\.|,|\bto\b|\band\b)\s*(?P<b>{_SIGNED}\s*[^\s\d,;\]]*)\s*\]?$",
    re.IGNORECASE,
)
_LEADING_NAME = re.compile(r"^[A-Za-z_][\w.]{0,100}\s*(?=[<>=!≤≥≠])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")

_PERCENT = {"%": 1.0, "pct": 1.0, "percent": 1.0}
_TIME = {  # into milliseconds
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "sec": 1e3,
    "secs": 1e3,
    "second": 1e3,
    "seconds": 1e3,
    "m": 6e4,
    "min": 6e4,
    "mins": 6e4,
    "minute": 6e4,
    "minutes": 6e4,
    "h": 3.6e6,
    "hr": 3.6e6,
    "hrs": 3.6e6,
    "hour": 3.6e6,
    "hours": 3.6e6,
    "d": 8.64e7,
    "day": 8.64e7,
    "days": 8.64e7,
}
_SIZE = {  # into bytes
    "b": 1.0,
    "byte": 1.0,
    "bytes": 1.0,
    "kb": 1024.0,
    "kib": 1024.0,
    "mb": 1024.0**2,
    "mib": 1024.0**2,
    "gb": 1024.0**3,
    "gib": 1024.0**3,
    "tb": 1024.0**4,
    "tib": 1024.0**4,
}
_PER = {  # a rate's time unit, into "per second"
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 1 / 60,
    "min": 1 / 60,
    "minute": 1 / 60,
    "h": 1 / 3600,
    "hr": 1 / 3600,
    "hour": 1 / 3600,
}
_RATES = {"rps": 1.0, "qps": 1.0, "ops": 1.0, "rpm": 1 / 60, "bps": 1.0 / 8}
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "million": 1e6, "bn": 1e9}
# suffix -> (canonical unit, factor into it); "m" is minutes, as monitors write durations
_UNITS: dict[str, tuple[str, float]] = {
    **{k: ("%", f) for k, f in _PERCENT.items()},
    **{k: ("", f) for k, f in _MULTIPLIERS.items()},
    **{k: ("ms", f) for k, f in _TIME.items()},
    **{k: ("B", f) for k, f in _SIZE.items()},
    **{k: ("/s", f) for k, f in _RATES.items()},
    "x": ("x", 1.0),
}


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number in a canonical unit, with the operator it was written with (if any)."""

    value: float
    unit: str = ""
    op: str | None = None


@dataclass(frozen=True, slots=True)
class Threshold:
    """A parsed threshold, the healthy condition: ``op`` is one of OPERATORS, ``range``
    (healthy from ``limit`` to ``high``) or None when only a number was written."""

    op: str | None
    limit: Quantity
    high: Quantity | None = None
    text: str = ""


def parse_quantity(raw: object, states: dict[str, float] | None = None) -> Quantity | None:
    """A metric value, baseline or threshold number; None when missing or not understood.

    ``states`` maps words such as "down" or "healthy" to numbers (health checks report words).
    """
    if raw is None or isinstance(raw, bool):
        return None if raw is None else Quantity(1.0 if raw else 0.0)
    if isinstance(raw, int | float):
        return Quantity(float(raw)) if math.isfinite(raw) else None
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        return None
    text = _clean(raw)
    if states and text.lower() in states:
        return Quantity(states[text.lower()])
    found = _OPERATOR.match(text)
    op = _SPELLED.get(found["op"], found["op"]) if found else None
    quantity = _number(found["rest"].strip() if found else text)
    if quantity is None:
        return None
    return Quantity(quantity.value, quantity.unit, op)


def parse_threshold(raw: object, states: dict[str, float] | None = None) -> Threshold | None:
    """A threshold: an operator and a number, a range, or a bare number; None if unreadable."""
    if isinstance(raw, str) and len(raw) <= MAX_TEXT:
        text = _clean(raw)
        if not _OPERATOR.match(text) and (span := _range(text)) is not None:
            low, high = span
            return Threshold(RANGE, low, high, raw.strip())
    quantity = parse_quantity(raw, states)
    if quantity is None:
        return None
    text = raw.strip() if isinstance(raw, str) else format_number(quantity.value)
    return Threshold(quantity.op, Quantity(quantity.value, quantity.unit), None, text)


def align_units(value: Quantity, limit: Quantity) -> tuple[Quantity, Quantity] | None:
    """The two quantities in one unit (a bare number takes the other's unit), or None."""
    if value.unit == limit.unit:
        return value, limit
    if not value.unit:
        return Quantity(value.value, limit.unit, value.op), limit
    if not limit.unit:
        return value, Quantity(limit.value, value.unit, limit.op)
    return None


def format_number(value: float) -> str:
    """A compact number for messages: 12, 0.62, 4.5, -12000."""
    if value % 1 == 0 and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.2g}"


def show(quantity: Quantity) -> str:
    """A quantity in words, in its canonical unit: "500ms", "12%", "3.5/s", "-100"."""
    unit = {"ms": "ms", "B": " bytes", "/s": "/s", "B/s": " bytes/s", "%": "%"}.get(
        quantity.unit, quantity.unit
    )
    return f"{format_number(quantity.value)}{unit}"


def _clean(raw: str) -> str:
    text = _THOUSANDS.sub("", _LEADING_NAME.sub("", raw.strip())).replace("\u2212", "-")
    if found := _WORDS.match(text):
        return f"{_WORD_OPS[found['word'].lower()]} {text[found.end() :]}"
    return text


def _range(text: str) -> tuple[Quantity, Quantity] | None:
    found = _RANGE.match(text)
    if found is None:
        return None
    low, high = _number(found["a"].strip()), _number(found["b"].strip())
    if low is None or high is None:
        return None
    if not low.unit:  # "200-500ms": the unit written once applies to both
        low = Quantity(low.value, high.unit)
    aligned = align_units(low, high)
    if aligned is None or aligned[0].value > aligned[1].value:
        return None
    return aligned


def _number(text: str) -> Quantity | None:
    found = _NUMBER.match(text)
    if found is None:
        return None
    number = float(found["num"].replace("\u2212", "-"))
    converted = _unit(number, (found["unit"] or "").lower())
    if converted is None or not math.isfinite(converted[0]):
        return None
    return Quantity(converted[0], converted[1])


def _unit(number: float, suffix: str) -> tuple[float, str] | None:
    """The number in its canonical unit; None for a suffix that is not a unit."""
    if not suffix:
        return number, ""
    if suffix in _UNITS:
        unit, factor = _UNITS[suffix]
        return number * factor, unit
    return _rate(number, suffix)


def _rate(number: float, suffix: str) -> tuple[float, str] | None:
    """ "req/s", "/min", "mb/s", "msgs/min": a count or a size per unit of time."""
    what, sep, per = suffix.partition("/")
    per = per if per in _PER else per.removesuffix("s")
    if not sep or per not in _PER:
        return None
    factor = _PER[per]
    if what in _SIZE:
        return number * _SIZE[what] * factor, "B/s"
    return number * _MULTIPLIERS.get(what, 1.0) * factor, "/s"  # "1.2k/s" is 1200/s
