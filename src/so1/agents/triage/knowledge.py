"""Triage knowledge: the packaged ``so1.knowledge/symptoms.yaml``, loaded once and typed.

The YAML holds the runbook's symptom table as weighted signals per cause, the step templates,
and the vocabularies severity needs (metric directions, health metrics, impact keywords).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import re2

import so1.knowledge

SIGNAL_KINDS = frozenset(
    {
        "metric",
        "related_metric",
        "text",
        "related_text",
        "recent_deployment",
        "deployment_config",
        "deployment_failed",
        "flag_change",
        "dependency_alerting",
        "dependency_down",
        "services_alerting",
        "region_alerting",
        "impact",
        "gradual",
        "above_baseline",
        "service",
    }
)
CONDITIONS = frozenset(
    {"recent_deployment", "deployment_config", "flag_change", "dependency_alerting"}
)
IMPACT_CLASSES = (
    "test_notification",
    "security_breach",
    "data_loss",
    "complete_outage",
    "outage",
    "monitoring_gap",
    "security_anomaly",
    "security_anomaly_metrics",
    "security_breach_metrics",
    "data_loss_metrics",
    "cosmetic",
    "workaround",
    "functional",
    "informational",
    "non_production",
    "no_impact",
    "early_warning",
    "attack_blocked",
    "failing_share",
    "limited_scope",
    "degraded",
)


class Match(Protocol):
    def start(self) -> int: ...

    def end(self) -> int: ...


class Pattern(Protocol):
    """A compiled knowledge pattern (RE2: linear time in the text, whatever the pattern)."""

    def search(self, text: str) -> Match | None: ...

    def finditer(self, text: str) -> Iterator[Match]: ...


@dataclass(frozen=True, slots=True)
class Signal:
    """One weighted piece of evidence for a cause."""

    when: str
    weight: float
    pattern: Pattern | None = None
    exclude: Pattern | None = None
    kinds: tuple[str, ...] = ()
    minimum: int = 1
    factor: float = 2.0
    requires: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CauseSpec:
    cause: str
    title: str
    signals: tuple[Signal, ...]
    steps: tuple[tuple[str, ...], ...]  # each step: alternatives, first renderable wins
    prior: float = 0.0


@dataclass(frozen=True, slots=True)
class Knowledge:
    lower_is_worse: Pattern
    higher_is_worse: Pattern
    health_metric: Pattern
    error_metric: Pattern
    success_metric: Pattern
    throughput_metric: Pattern
    outage_error_percent: float
    outage_success_percent: float
    states: dict[str, float]
    impact: dict[str, Pattern]  # by IMPACT_CLASSES name
    database_service: Pattern
    causes: tuple[CauseSpec, ...]

    @property
    def functional(self) -> Pattern:
        """Words that say something does not work (a cosmetic alert has none of them)."""
        return self.impact["functional"]


@functools.cache
def knowledge() -> Knowledge:
    """The packaged knowledge, parsed on first use."""
    return parse_knowledge(so1.knowledge.symptoms())


def parse_knowledge(raw: Any) -> Knowledge:
    """Type and check the YAML document; raises ValueError on a malformed one."""
    doc = _map(raw, "symptoms.yaml")
    metrics = _map(doc.get("metrics"), "metrics")
    states = _map(doc.get("states"), "states")
    impact = _map(doc.get("impact"), "impact")
    causes = _map(doc.get("causes"), "causes")
    return Knowledge(
        lower_is_worse=_pattern(metrics.get("lower_is_worse"), "metrics.lower_is_worse"),
        higher_is_worse=_pattern(metrics.get("higher_is_worse"), "metrics.higher_is_worse"),
        health_metric=_pattern(metrics.get("health"), "metrics.health"),
        error_metric=_pattern(metrics.get("errors"), "metrics.errors"),
        success_metric=_pattern(metrics.get("success"), "metrics.success"),
        throughput_metric=_pattern(metrics.get("throughput"), "metrics.throughput"),
        outage_error_percent=float(metrics.get("outage_error_percent", 50)),
        outage_success_percent=float(metrics.get("outage_success_percent", 50)),
        states={
            **{str(w).lower(): 0.0 for w in _list(states.get("down"), "states.down")},
            **{str(w).lower(): 1.0 for w in _list(states.get("up"), "states.up")},
        },
        impact={name: _pattern(impact.get(name), f"impact.{name}") for name in IMPACT_CLASSES},
        database_service=_pattern(doc.get("database_services"), "database_services"),
        causes=tuple(
            _cause(str(name), _map(spec, f"causes.{name}")) for name, spec in causes.items()
        ),
    )


def _cause(name: str, spec: Mapping[str, Any]) -> CauseSpec:
    signals = _list(spec.get("signals", []), f"causes.{name}.signals")
    steps = _list(spec.get("steps"), f"causes.{name}.steps")
    return CauseSpec(
        cause=name,
        title=str(spec.get("title", name)),
        signals=tuple(
            _signal(_map(s, f"causes.{name}.signals[{i}]"), f"causes.{name}")
            for i, s in enumerate(signals)
        ),
        steps=tuple(tuple(str(a) for a in s) if isinstance(s, list) else (str(s),) for s in steps),
        prior=float(spec.get("prior", 0.0)),
    )


def _signal(raw: Mapping[str, Any], where: str) -> Signal:
    when = str(raw.get("when"))
    if when not in SIGNAL_KINDS:
        raise ValueError(f"{where}: unknown signal '{when}'")
    conditions = (*_list(raw.get("requires", []), where), *_list(raw.get("unless", []), where))
    if not set(conditions) <= CONDITIONS:
        raise ValueError(f"{where}: conditions must be among {sorted(CONDITIONS)}")
    return Signal(
        when=when,
        weight=float(raw["weight"]),
        pattern=_pattern(raw["pattern"], where) if "pattern" in raw else None,
        exclude=_pattern(raw["exclude"], where) if "exclude" in raw else None,
        kinds=tuple(str(k) for k in _list(raw.get("kinds", []), where)),
        minimum=int(raw.get("min", 1)),
        factor=float(raw.get("factor", 2.0)),
        requires=tuple(str(c) for c in _list(raw.get("requires", []), where)),
        unless=tuple(str(c) for c in _list(raw.get("unless", []), where)),
    )


def _pattern(raw: Any, where: str) -> Pattern:
    """The patterns as one case-insensitive RE2 expression: RE2 runs in time linear in the
    text, so no pattern can blow up on a long alert; it has no backreferences or lookaround."""
    parts = [raw] if isinstance(raw, str) else _list(raw, where)
    if not parts:
        raise ValueError(f"{where}: at least one pattern is needed")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        compiled: Pattern = re2.compile("|".join(f"(?:{p})" for p in parts), options)
    except re2.error as exc:
        raise ValueError(f"{where}: bad pattern ({exc})") from None
    return compiled


def _map(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a mapping")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list")
    return raw


def every_pattern(kn: Knowledge) -> Iterator[tuple[str, Pattern]]:
    """Each compiled pattern of the knowledge with where it comes from (for checks)."""
    for name in (
        "lower_is_worse",
        "higher_is_worse",
        "health_metric",
        "error_metric",
        "success_metric",
        "throughput_metric",
        "database_service",
    ):
        yield f"metrics.{name}", getattr(kn, name)
    for name, pattern in kn.impact.items():
        yield f"impact.{name}", pattern
    for spec in kn.causes:
        for index, signal in enumerate(spec.signals):
            if signal.pattern is not None:
                yield f"causes.{spec.cause}.signals[{index}]", signal.pattern
            if signal.exclude is not None:
                yield f"causes.{spec.cause}.signals[{index}].exclude", signal.exclude
