"""The table bench/ingest.py prints: one row per setup and figure, with the do-nothing
baseline's figure from the same run, issue 18's target and whether it is met.

Pure: figures in (a dict per setup), rows and text out. `Target` holds a bound; `check` says
whether a value meets it (None when the figure is missing, which is a failure in the table).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SQLITE = "SQLite so1 serve"
POSTGRES = "PostgreSQL so1 serve"
ONE_MACHINE = "PostgreSQL one-machine topology"


@dataclass(frozen=True)
class Target:
    """`value <op> limit`, shown as text (e.g. ">= 3000")."""

    op: str
    limit: float

    def met(self, value: float) -> bool:
        compare: Callable[[float, float], bool] = {
            ">=": operator.ge,
            "<=": operator.le,
            "==": operator.eq,
        }[self.op]
        return compare(value, self.limit)

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"


@dataclass(frozen=True)
class Figure:
    """A figure of the table: its key in the figures dict, label and number format."""

    key: str
    label: str
    fmt: str = "{:,.0f}"

    def show(self, figures: Mapping[str, Any]) -> str:
        value = figures.get(self.key)
        return "n/a" if value is None else self.fmt.format(value)


@dataclass(frozen=True)
class Row:
    setup: str
    figure: str
    value: str
    baseline: str
    target: str
    verdict: str  # "pass", "FAIL" or "" (no target)


FIGURES = (
    Figure("new_rps", "new alerts/s (closed loop)"),
    Figure("dup_rps", "duplicate alerts/s (closed loop)"),
    Figure("mixed_rps", "mixed alerts/s (harmonic mean)"),
    Figure("mixed_share", "mixed alerts/s as a share of the baseline's", "{:.3f}"),
    Figure("mixed_p99_ms", "mixed p99 ms (worse of the two)", "{:,.1f}"),
    Figure("mixed_errors", "mixed errors (non-2xx, failed, unanswered)", "{:d}"),
    Figure("cpu_ms_load", "server CPU ms per alert, during load", "{:.3f}"),
    Figure("cpu_ms_drained", "server CPU ms per alert, triage drained", "{:.3f}"),
    Figure("triage_mixed_p99_ms", "receipt->triage p99 ms, mixed run", "{:,.0f}"),
    Figure("drain_mixed_s", "triage backlog drained after mixed run, s", "{:.1f}"),
    Figure("drain_100_s", "triage backlog drained after 100/s, s", "{:.1f}"),
    Figure("drain_1000_s", "triage backlog drained after 1,000/s, s", "{:.1f}"),
    Figure("rate100_p99_ms", "open loop 100/s p99 ms", "{:,.1f}"),
    Figure("rate100_errors", "open loop 100/s errors (incl. unanswered)", "{:d}"),
    Figure("triage_100_p99_ms", "receipt->triage p99 ms at 100/s", "{:,.0f}"),
    Figure("rate1000_p99_ms", "open loop 1,000/s p99 ms", "{:,.1f}"),
    Figure("rate1000_rps", "open loop 1,000/s achieved/s", "{:,.0f}"),
    Figure("rate1000_errors", "open loop 1,000/s errors (incl. unanswered)", "{:d}"),
    Figure("triage_1000_p99_ms", "receipt->triage p99 ms at 1,000/s", "{:,.0f}"),
    Figure("triage_missed", "alerts of those runs the probe never saw decided", "{:d}"),
    Figure("storm_s", "storm: all alerts accepted in s", "{:.2f}"),
    Figure("storm_errors", "storm errors", "{:d}"),
    Figure("storm_missing", "storm alerts not stored", "{:,d}"),
    Figure("storm_incidents", "storm incidents created", "{:d}"),
    Figure("storm_joined", "storm alerts' distinct incidents", "{:d}"),
    Figure("drain_storm_s", "triage backlog drained after storm, s", "{:.1f}"),
    Figure("rss_mb", "RSS of the process trees, peak MB", "{:,.0f}"),
    Figure("tracebacks", "tracebacks in the server output (before stop)", "{:d}"),
    Figure("steal_pct", "machine: CPU time stolen by other guests, %", "{:.1f}"),
    Figure("pause_ms", "machine: longest pause of a sleeping process, ms", "{:,.0f}"),
)

SO1_SETUPS = (SQLITE, POSTGRES, ONE_MACHINE)
BOTH_ENGINES: dict[str, Target] = {
    "rate100_p99_ms": Target("<=", 20),
    "rate100_errors": Target("==", 0),
    "rate1000_p99_ms": Target("<=", 100),
    "rate1000_errors": Target("==", 0),
    "storm_s": Target("<=", 5),
    "storm_errors": Target("==", 0),
    "storm_missing": Target("==", 0),
    "storm_incidents": Target("==", 1),
    "mixed_errors": Target("==", 0),
}
TARGETS: dict[str, dict[str, Target]] = {
    SQLITE: {
        **BOTH_ENGINES,
        "mixed_rps": Target(">=", 3000),
        "triage_mixed_p99_ms": Target("<=", 1000),
        "cpu_ms_load": Target("<=", 0.5),
    },
    POSTGRES: dict(BOTH_ENGINES),
    ONE_MACHINE: {**BOTH_ENGINES, "mixed_rps": Target(">=", 2500)},
}


def check(value: Any, target: Target | None) -> bool | None:
    """Whether `value` meets `target`: None without a target, False when the value is missing."""
    if target is None:
        return None
    if value is None:
        return False
    return target.met(float(value))


def verdict(met: bool | None) -> str:
    return "" if met is None else "pass" if met else "FAIL"


def rows(setup: str, figures: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Row]:
    """One row per figure the setup has (the baseline column blank where it has none)."""
    out = []
    targets = TARGETS.get(setup) or TARGETS.get(setup.partition(" --workers")[0], {})
    for figure in FIGURES:
        if figure.key not in figures:
            continue
        target = targets.get(figure.key)
        base = figure.show(baseline) if figure.key in baseline else ""
        met = check(figures[figure.key], target)
        out.append(
            Row(setup, figure.label, figure.show(figures), base, str(target or ""), verdict(met))
        )
    return out


def markdown(found: list[Row]) -> str:
    """A Markdown table of the rows."""
    head = "| setup | figure | value | do-nothing baseline | target | |"
    lines = [head, "|---|---|---:|---:|---|---|"]
    for r in found:
        lines.append(
            f"| {r.setup} | {r.figure} | {r.value} | {r.baseline} | {r.target} | {r.verdict} |"
        )
    return "\n".join(lines)


def failures(found: list[Row]) -> list[Row]:
    return [r for r in found if r.verdict == "FAIL"]
