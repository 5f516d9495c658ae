"""Severity and confidence: the runbook's SEV0-4 table turned into a small, explained score.

The impact class sets the starting level and the bounds (a security breach or data loss is
SEV0; an outage is SEV1, or SEV0 when it is wide; degradation ranges SEV1-SEV3; cosmetic is
SEV4). Catalog tier, users, distance past the threshold, the sender's hint and how many
services alert move it within the bounds; every move is written into the rationale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from so1.agents.triage.contract import Impact
from so1.agents.triage.facts import Facts, alert_text
from so1.agents.triage.knowledge import Knowledge
from so1.agents.triage.values import format_number
from so1.domain.alerts import AlertStatus, SeverityHint
from so1.domain.severity import SEVERITY_TABLE, Severity

BASE = {
    "security_breach": 0.0,
    "data_loss": 0.0,
    "outage": 1.0,
    "monitoring_gap": 3.0,
    "security_anomaly": 2.0,
    "degraded": 2.0,
    "cosmetic": 4.0,
}
BOUNDS = {
    "security_breach": (0, 0),
    "data_loss": (0, 0),
    "outage": (0, 1),
    "monitoring_gap": (2, 3),
    "security_anomaly": (1, 3),
    "degraded": (1, 3),
    "cosmetic": (4, 4),
}
TIER = {"critical": -0.3, "high": 0.0, "medium": 0.4, "low": 0.9}
HINT = {"critical": -0.3, "error": 0.0, "warning": 0.4, "info": 0.7}
STORM = 10  # the runbook's alert storm: 10+ alerts, a cascading failure
WIDE = 3  # other services alerting at once


@dataclass(frozen=True, slots=True)
class Assessment:
    severity: Severity
    score: float
    rationale: tuple[str, ...]


def estimate_impact(facts: Facts) -> Impact:
    """The alerting service and everything that depends on it; users of the most used one
    (the same people use the services in a chain, so users are not added up)."""
    services = (facts.service, *facts.dependents)
    users = [e.users for s in services if (e := facts.catalog.get(s)) and e.users is not None]
    return Impact(max(users) if users else None, services)


def non_incident_reason(facts: Facts, kn: Knowledge) -> str | None:
    """Why there is nothing to act on, or None."""
    alert = facts.alert
    if alert.is_test or kn.impact["test_notification"].search(alert_text(alert)):
        return "test notification"
    if alert.status is AlertStatus.RESOLVED:
        return "alert already resolved"
    if facts.breach.state == "within":
        return f"value inside the threshold: {alert.current_value} against {alert.threshold}"
    return None


def assess(facts: Facts, impact: Impact, kn: Knowledge) -> Assessment:
    """The severity with the reasons for it."""
    kind = facts.impact_class
    lines = [f"impact class {kind}: {facts.impact_reason}"]
    score = BASE[kind]
    if kind not in ("security_breach", "data_loss", "cosmetic"):
        for delta, why in _adjustments(facts, impact, kn):
            score += delta
            if why:
                lines.append(f"{why}: {delta:+.1f}" if delta else why)
    low, high = BOUNDS[kind]
    rank = min(max(math.floor(score + 0.5), low), high)
    severity = Severity(f"SEV{rank}")
    lines.append(
        f"score {format_number(round(score, 2))} -> {severity.value}: "
        f"{SEVERITY_TABLE[severity].criteria}"
    )
    if kind == "outage" and score >= 1.5:
        lines.append("health endpoint or service down: SEV1 minimum")
    return Assessment(severity, round(score, 2), tuple(lines))


def _adjustments(facts: Facts, impact: Impact, kn: Knowledge) -> list[tuple[float, str]]:
    outage = facts.impact_class == "outage"
    entry = facts.entry
    tier = entry.tier if entry else None
    out = [(TIER.get(tier or "", 0.0), f"tier {tier}" if tier else "")]
    out.append(_users(impact.users_affected, outage))
    if outage:
        out.append(_dependents(len(facts.dependents)))
    else:
        out.extend(_magnitude(facts, kn))
    hint = facts.alert.severity_hint
    if hint:
        out.append((HINT[hint] if not outage else min(HINT[hint], 0.0), f"sender's hint {hint}"))
    out.append(_breadth(facts))
    return out


def _users(users: int | None, outage: bool) -> tuple[float, str]:
    if users is None:
        return 0.0, ""
    if users >= 10_000:
        return (-0.3 if outage else -0.7), f"{users} users"
    if users >= 1_000:
        return (0.0 if outage else -0.3), f"{users} users"
    return (0.3 if users < 50 else 0.0), f"{users} users"


def _dependents(count: int) -> tuple[float, str]:
    if count >= 3:
        return -0.3, f"{count} services depend on it"
    return (-0.1, f"{count} service(s) depend on it") if count else (0.0, "")


def _magnitude(facts: Facts, kn: Knowledge) -> list[tuple[float, str]]:
    ratio = facts.breach.ratio
    if facts.breach.state != "breached" or ratio is None:
        return []
    shown = f"{facts.alert.current_value} is {format_number(round(ratio, 1))}x the limit"
    if ratio < 1.25:
        out = [(0.6, f"{shown}, just past it")]
    elif ratio < 2:
        out = [(0.3, f"{shown}, modestly past it")]
    else:
        out = [(-0.3, f"{shown}, far past it") if ratio >= 20 else (0.0, shown)]
    value, metric = facts.value, facts.alert.metric or ""
    if value and value.unit == "%" and value.value >= 20 and kn.error_metric.search(metric):
        out.append((-0.3, f"{format_number(value.value)}% of requests failing"))
    return out


def _breadth(facts: Facts) -> tuple[float, str]:
    alerts = len(facts.related) + 1
    if alerts >= STORM:
        return -0.7, f"alert storm: {alerts} open alerts, correlate and treat as one incident"
    others = {a.service for a in facts.related if a.service and a.service != facts.service}
    if len(others) >= WIDE:
        return -0.5, f"{len(others)} other services alerting"
    return 0.0, ""


def confidence(
    facts: Facts, result: Assessment, top: tuple[str, float] | None
) -> tuple[float, list[str]]:
    """How sure triage is, starting at 0.90 and dropping for thin or conflicting evidence."""
    alert, checks = facts.alert, []
    checks.append((facts.entry is None, 0.15, f"{facts.service} is not in the catalog"))
    checks.append((not alert.metric, 0.10, "the alert names no metric"))
    checks.append((not alert.summary, 0.05, "the alert has no summary"))
    thin = facts.impact_class == "degraded" and facts.threshold is None
    checks.append((thin, 0.10, "no threshold to compare with"))
    unreadable = bool(alert.metric) and facts.value is None
    checks.append((unreadable, 0.10, f"current value {alert.current_value!r} not understood"))
    odd_units = facts.breach.note.startswith("units differ")
    checks.append(
        (odd_units, 0.10, f"value and threshold in different units ({facts.breach.note})")
    )
    checks.append(_conflict(alert.severity_hint, result.severity))
    near = abs(result.score - round(result.score)) >= 0.35 and _movable(facts, result)
    checks.append((near, 0.05, "severity sits between two levels"))
    if top is not None:
        checks.append((top[0] == "unknown", 0.10, "no cause stands out"))
        checks.append((top[0] != "unknown" and top[1] < 0.6, 0.05, "the leading cause is weak"))
    value, lines = 0.90, []
    for failed, cost, why in checks:
        if failed:
            value -= cost
            lines.append(f"confidence -{cost:.2f}: {why}")
    return round(min(max(value, 0.05), 0.99), 2), lines


def non_incident_confidence(facts: Facts, reason: str) -> float:
    if reason == "test notification":
        return 0.95
    if reason == "alert already resolved":
        return 0.9
    value = 0.85 - (0.1 if facts.entry is None else 0.0)
    loud = facts.alert.severity_hint in (SeverityHint.CRITICAL, SeverityHint.ERROR)
    return round(value - (0.15 if loud else 0.0), 2)


def _conflict(hint: SeverityHint | None, severity: Severity) -> tuple[bool, float, str]:
    if hint in ("info", "warning") and severity.rank <= 1:
        return True, 0.15, f"the sender said {hint} but the data says {severity.value}"
    if hint == "critical" and severity.rank >= 3:
        return True, 0.15, f"the sender said critical but the data says {severity.value}"
    return False, 0.0, ""


def _movable(facts: Facts, result: Assessment) -> bool:
    """Whether both levels around the score are possible for this impact class."""
    low, high = BOUNDS[facts.impact_class]
    below = math.floor(result.score)
    return low <= below and below + 1 <= high
