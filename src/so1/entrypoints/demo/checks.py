"""What `so1 demo` holds itself to, from its console's readings and SO1's record: the gate's
p99 and the console's agree (they are the same samples), and the restart did not make things
worse than the incident it mitigates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from so1.entrypoints.demo.traffic import Reading

AGREEMENT = 0.2  # the gate's p99 and the console's within 20 % of each other
IN_FLIGHT = timedelta(seconds=1)  # a reading this close to the verdict may not have arrived
P99 = "latency_p99_ms"


@dataclass(frozen=True)
class Agreement:
    """The gate's worst p99 over the run of points it judged passing, and the console's worst
    over the same window."""

    gate_ms: float | None
    console_ms: float | None
    readings: int

    @property
    def agrees(self) -> bool:
        if self.gate_ms is None or self.console_ms is None:
            return False
        return abs(self.gate_ms - self.console_ms) <= AGREEMENT * max(self.gate_ms, self.console_ms)

    def line(self) -> str:
        gate = "none" if self.gate_ms is None else f"{self.gate_ms:.0f} ms"
        shown = "none" if self.console_ms is None else f"{self.console_ms:.0f} ms"
        verdict = "agree" if self.agrees else "DISAGREE"
        return (
            f"gate p99 {gate}, console p99 {shown} (worst of {self.readings} readings over the"
            f" window the gate passed): {verdict} within {AGREEMENT:.0%}"
        )


def p99_agreement(
    verdict: Mapping[str, Any], at: datetime, readings: Sequence[Reading]
) -> Agreement:
    """``verdict``: a verification.result event's data; ``at``: when it was judged."""
    gate = next((g for g in verdict.get("gates") or [] if g.get("metric") == P99), None)
    if gate is None or not gate.get("passing_since"):
        return Agreement(None, None, 0)
    since = datetime.fromisoformat(gate["passing_since"])
    window = [r for r in readings if since <= r.at <= at - IN_FLIGHT]
    worst = max((r.p99_ms for r in window), default=None)
    return Agreement(gate.get("worst"), worst, len(window))


@dataclass(frozen=True)
class RestartImpact:
    """The worst error rate while the incident ran, and from the restart until it settled."""

    incident_peak: float
    restart_peak: float

    @property
    def worse(self) -> bool:
        return self.restart_peak > self.incident_peak

    def line(self) -> str:
        said = (
            f"restart: worst error rate {self.restart_peak:.1f}%"
            f" (the incident's worst: {self.incident_peak:.1f}%)"
        )
        return said + (": the restart made things WORSE" if self.worse else ": no worse")


def restart_impact(incident: Sequence[Reading], restart: Sequence[Reading]) -> RestartImpact:
    """``incident``: the readings from the overload to the action; ``restart``: from the end
    of the rollout until it settled (each reading covers the 3 s before it, so the restart's
    own seconds are in them)."""
    return RestartImpact(
        max((r.error_rate for r in incident), default=0.0),
        max((r.error_rate for r in restart), default=0.0),
    )
