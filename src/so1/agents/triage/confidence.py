"""How sure triage is: 0.90 to start, less for each sign of thin or conflicting evidence, each
written into the rationale. Below 0.70 the report says ``investigation_required``."""

from __future__ import annotations

import math

from so1.agents.triage.facts import Facts
from so1.agents.triage.severity import CLASSES, Assessment
from so1.domain.alerts import SeverityHint
from so1.domain.severity import Severity

START = 0.90


def confidence(
    facts: Facts, result: Assessment, top: tuple[str, float] | None
) -> tuple[float, list[str]]:
    """The report's confidence and the reasons it is lower than START."""
    alert, checks = facts.alert, []
    checks.append(_not_in_catalog(facts))
    checks.append((not alert.metric, 0.10, "the alert names no metric"))
    checks.append((not alert.summary, 0.05, "the alert has no summary"))
    thin = facts.impact.name == "degraded" and facts.threshold is None
    checks.append((thin, 0.10, "no threshold to compare with"))
    unreadable = bool(alert.metric) and facts.value is None
    checks.append((unreadable, 0.10, f"current value {alert.current_value!r} not understood"))
    odd_units = facts.breach.note.startswith("units differ")
    checks.append(
        (odd_units, 0.10, f"value and threshold in different units ({facts.breach.note})")
    )
    checks.append(_conflict(alert.severity_hint, result.severity))
    movable = CLASSES[facts.impact.name].most != CLASSES[facts.impact.name].least
    worded = facts.impact.worded and movable
    checks.append((worded, 0.10, "the impact class rests on words alone; nothing measures it"))
    both_ways = any(d > 0 for d in result.moves) and any(d < 0 for d in result.moves)
    checks.append((both_ways, 0.05, "the moves pull both ways"))
    near = abs(result.score - round(result.score)) >= 0.35 and _movable(facts, result)
    checks.append((near, 0.05, "severity sits between two levels"))
    if top is not None:
        checks.append((top[0] == "unknown", 0.10, "no cause stands out"))
        checks.append((top[0] != "unknown" and top[1] < 0.6, 0.05, "the leading cause is weak"))
    value, lines = START, []
    for failed, cost, why in checks:
        if failed:
            value -= cost
            lines.append(f"confidence -{cost:.2f}: {why}")
    return round(min(max(value, 0.05), 0.99), 2), lines


def _not_in_catalog(facts: Facts) -> tuple[bool, float, str]:
    """Without the catalog neither tier nor users can move the severity: 0.15 off, or 0.10
    when a value measured past a written operator ("12%" against "< 1%") sets the class."""
    threshold = facts.threshold
    measured = (
        facts.value is not None
        and threshold is not None
        and threshold.op is not None
        and facts.breach.state == "breached"
    )
    cost = 0.10 if measured else 0.15
    return facts.entry is None, cost, f"{facts.service} is not in the catalog"


def non_incident_confidence(facts: Facts, reason: str) -> float:
    if reason == "test notification":
        return 0.95
    if reason == "alert already resolved":
        return 0.9
    value = 0.85 - (0.1 if facts.entry is None else 0.0)
    loud = facts.alert.severity_hint in (SeverityHint.CRITICAL, SeverityHint.ERROR)
    return round(value - (0.15 if loud else 0.0), 2)


def _conflict(hint: SeverityHint | None, severity: Severity) -> tuple[bool, float, str]:
    if hint in (SeverityHint.INFO, SeverityHint.WARNING) and severity.rank <= 1:
        return True, 0.15, f"the sender said {hint} but the data says {severity.value}"
    if hint is SeverityHint.CRITICAL and severity.rank >= 3:
        return True, 0.15, f"the sender said critical but the data says {severity.value}"
    return False, 0.0, ""


def _movable(facts: Facts, result: Assessment) -> bool:
    """Whether both levels around the score are possible for this impact class."""
    rule = CLASSES[facts.impact.name]
    below = math.floor(result.score)
    return rule.most <= below and below + 1 <= rule.least
