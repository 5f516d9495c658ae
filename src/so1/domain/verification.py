"""Did the mitigation work? The runbook's metric gates judged over series, pure.

Seed Phase 3 "Monitor mitigation impact" and Phase 4 "Verify resolution": error rate back
under 1 % within 5 minutes, p99 under 500 ms, metrics stable for 30 minutes. A catalog entry's
``baselines["gates"]`` (metric → threshold) replaces the default thresholds for that service.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from so1.domain.health import HEALTH_METRIC
from so1.domain.metrics import Series

SETTLE = timedelta(minutes=5)  # seed: "Error rate back under 1% within 5 minutes"
STABILITY = timedelta(minutes=30)  # seed: "Metrics stable for 30+ minutes"
NO_CHANGE = 0.9  # latest value at or above 90 % of the pre-action level: no real improvement


@dataclass(frozen=True, slots=True)
class Gate:
    metric: str
    below: float

    @property
    def label(self) -> str:
        if self.metric == "new_alerts":
            return "no new alerts firing"
        if self.metric == HEALTH_METRIC:
            return "service health checks passing"
        unit = "%" if self.metric.endswith(("rate", "utilization")) else " ms"
        return f"{self.metric} < {self.below:g}{unit}"


DEFAULT_GATES = (Gate("error_rate", 1.0), Gate("latency_p99_ms", 500.0))
HEALTH_GATE = Gate(HEALTH_METRIC, 0.5)  # probes are 0 (passing) or 1 (failing)


def gates_for(baselines: Mapping[str, Any]) -> tuple[Gate, ...]:
    """The default gates with the service's own thresholds where its catalog entry has them
    (``baselines["gates"]``: metric → number); anything not a number is ignored."""
    own = baselines.get("gates") or {}
    if not isinstance(own, Mapping):
        return DEFAULT_GATES
    parsed = {str(metric): _number(value) for metric, value in own.items()}
    numbers = {metric: value for metric, value in parsed.items() if value is not None}
    gates = [Gate(g.metric, numbers.get(g.metric, g.below)) for g in DEFAULT_GATES]
    known = {g.metric for g in gates}
    return tuple(gates + [Gate(m, v) for m, v in numbers.items() if m not in known])


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        found = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return found if math.isfinite(found) else None


class Outcome(enum.StrEnum):
    WAITING = "waiting"  # inside the settle window and not yet passing
    EFFECTIVE = "effective"  # every gate passes; the stability window is running
    STABLE = "stable"  # every gate has passed for the whole stability window: resolvable
    PARTIAL = "partial"  # better, but some gates still fail after the settle window
    INEFFECTIVE = "ineffective"  # no real change after the settle window
    NEW_SYMPTOMS = "new_symptoms"  # a gate that passed before the action fails now
    NO_DATA = "no_data"  # a gate metric has no points after the action


@dataclass(frozen=True, slots=True)
class GateResult:
    gate: Gate
    before: float | None  # mean over the window before the action
    latest: float | None
    passing: bool
    passing_since: datetime | None  # start of the current run of passing points
    worst: float | None = None  # the highest point of that run: what "passing" vouches for

    def summary(self) -> str:
        shown = "no data" if self.latest is None else self._value(self.latest)
        was = "" if self.before is None else f" (before: {self._value(self.before)})"
        mark = "✅" if self.passing else "❌"
        return f"{mark} {self.gate.label}: {shown}{was}"

    def _value(self, value: float) -> str:
        if self.gate.metric == HEALTH_METRIC:  # probes: 0 passing, 1 failing; a mean between
            return "yes" if value == 0 else "no" if value == 1 else f"{value:.0%} of probes failed"
        return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    gates: tuple[GateResult, ...]
    stable_for: timedelta
    reason: str

    @property
    def failing(self) -> list[str]:
        return [r.gate.label for r in self.gates if not r.passing]


def judge(
    gates: Sequence[Gate],
    before: Mapping[str, Series],
    after: Mapping[str, Series],
    acted_at: datetime,
    now: datetime,
    settle: timedelta = SETTLE,
    stability: timedelta = STABILITY,
    new_alerts: Sequence[datetime] | None = None,
) -> Verdict:
    """``before``: each gate metric over a window ending at the action; ``after``: from the
    action to ``now``; ``new_alerts``: when alerts of the service first fired after the action
    and still fire (the runbook's "No new alerts firing"), when known."""
    results = tuple(_gate_result(g, before.get(g.metric), after.get(g.metric)) for g in gates)
    if new_alerts is not None:
        results += (_alerts_result(new_alerts, acted_at),)
    stable_for = _stable_for(results, now)
    outcome, reason = _outcome(results, now - acted_at, settle, stable_for, stability)
    return Verdict(outcome, results, stable_for, reason)


NO_NEW_ALERTS = Gate("new_alerts", 1.0)


def _alerts_result(fired_at: Sequence[datetime], acted_at: datetime) -> GateResult:
    """A gate on the count of new alerts: passing (since the action) when there are none;
    failing alerts are new symptoms, as the count before the action is taken as none."""
    count = float(len(fired_at))
    passing = count == 0
    since = acted_at if passing else None
    return GateResult(NO_NEW_ALERTS, 0.0, count, passing, since, 0.0 if passing else None)


def _gate_result(gate: Gate, before: Series | None, after: Series | None) -> GateResult:
    prior = [v for _, v in before.points] if before else []
    points = after.points if after else []
    since: datetime | None = None
    worst: float | None = None
    for at, value in reversed(points):
        if value >= gate.below:
            break
        since, worst = at, value if worst is None else max(worst, value)
    latest = points[-1][1] if points else None
    mean = sum(prior) / len(prior) if prior else None
    return GateResult(gate, mean, latest, since is not None, since, worst)


def _stable_for(results: Sequence[GateResult], now: datetime) -> timedelta:
    starts = [r.passing_since for r in results]
    if not results or any(s is None for s in starts):
        return timedelta(0)
    return now - max(s for s in starts if s is not None)


def _outcome(
    results: Sequence[GateResult],
    elapsed: timedelta,
    settle: timedelta,
    stable_for: timedelta,
    stability: timedelta,
) -> tuple[Outcome, str]:
    missing = [r.gate.metric for r in results if r.latest is None]
    if missing:
        return Outcome.NO_DATA, f"no data after the action for {', '.join(missing)}"
    if all(r.passing for r in results):
        if stable_for >= stability:
            return Outcome.STABLE, f"every gate has passed for {_minutes(stable_for)}"
        return Outcome.EFFECTIVE, f"every gate passes; stable for {_minutes(stable_for)} so far"
    if elapsed < settle:  # a restart's own blip is not a verdict
        return Outcome.WAITING, f"{_minutes(elapsed)} since the action; gates not yet passing"
    return _failing_outcome(results, elapsed)


def _failing_outcome(results: Sequence[GateResult], elapsed: timedelta) -> tuple[Outcome, str]:
    """After the settle window, with some gate still failing: why."""
    worse = [r.gate.label for r in results if not r.passing and _passed_before(r)]
    if worse:
        return Outcome.NEW_SYMPTOMS, f"passed before the action, failing now: {', '.join(worse)}"
    if any(_improved(r) for r in results):
        names = ", ".join(r.gate.label for r in results if not r.passing)
        return Outcome.PARTIAL, f"improved, still failing: {names}"
    return Outcome.INEFFECTIVE, f"no real change after {_minutes(elapsed)}"


def _passed_before(result: GateResult) -> bool:
    return result.before is not None and result.before < result.gate.below


def _improved(result: GateResult) -> bool:
    if result.before is None or result.latest is None or result.before <= 0:
        return False
    return result.latest < result.before * NO_CHANGE


def _minutes(span: timedelta) -> str:
    """A duration as people say it: seconds under two minutes, minutes after."""
    seconds = span.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
