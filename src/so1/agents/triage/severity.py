"""Severity in the runbook table's order: the impact class first, then small bounded moves.

The impact class (``impact.classify``) gives the starting level and the levels the moves may
reach (``CLASSES``). Then, for classes that allow it, these moves (in severity levels;
negative is more severe), each written into the rationale with its size:

- the catalog tier: critical -0.3, high 0, medium +0.5, low +0.8;
- the users of the service and those that depend on it: under 50 +0.25 (many users do not
  by themselves make it more severe);
- the text limits the failure to one part (one region, zone, shard or cluster): +0.5;
- how far past the threshold: under 1.25x +0.5 (just past), under 2x +0.25, 20x or more
  -0.25; 20% or more of requests failing -0.25;
- how many services alert: an alert storm (10 or more open alerts) or 3 or more other
  services alerting -0.5; for an outage, services depending on it that alert too -0.1 (1-2)
  or -0.3;
- the sender's own urgency: warning +0.25, info +0.5 (never less severe for an outage);
  critical -0.3 only when nothing measures the impact (senders call most alerts critical).

The moves add up to at most one level either way; the score rounds half up (2.5 is SEV3) and
stays within the class's levels. A health endpoint down is SEV1 at least (the runbook's rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from so1.agents.triage.contract import Impact
from so1.agents.triage.facts import Facts
from so1.agents.triage.impact import first_phrase
from so1.agents.triage.knowledge import Knowledge
from so1.agents.triage.values import format_number
from so1.domain.alerts import AlertStatus
from so1.domain.severity import SEVERITY_TABLE, Severity


@dataclass(frozen=True, slots=True)
class ClassRule:
    base: float  # the table's level for the class
    most: int  # the most severe level moves may reach
    least: int  # the least severe


CLASSES = {
    "security_breach": ClassRule(0, 0, 0),
    "data_loss": ClassRule(0, 0, 0),
    "complete_outage": ClassRule(0, 0, 1),
    "outage": ClassRule(1, 0, 2),
    "security_anomaly": ClassRule(2, 1, 3),
    "degraded": ClassRule(2, 1, 3),
    "minor": ClassRule(3, 2, 3),
    "monitoring_gap": ClassRule(3, 2, 3),
    "early_warning": ClassRule(3, 3, 4),
    "attack_blocked": ClassRule(3, 3, 3),
    "workaround": ClassRule(3, 3, 3),
    "no_impact": ClassRule(4, 4, 4),
    "cosmetic": ClassRule(4, 4, 4),
}
NEVER_CLOSED = ("security_breach", "data_loss")  # never a non-incident (issue 14)
MEASURED = ("degraded", "security_anomaly", "minor")  # classes a distance past the limit moves
TIER = {"critical": -0.3, "high": 0.0, "medium": 0.5, "low": 0.8}
HINT = {"critical": -0.3, "error": 0.0, "warning": 0.25, "info": 0.5}
WHOLE_SERVICE = -0.25  # a health endpoint down: the whole service is down
MOVES_CAP = 1.0
STORM = 10  # the runbook's alert storm: 10+ alerts, a cascading failure
WIDE = 3  # other services alerting at once


@dataclass(frozen=True, slots=True)
class Assessment:
    severity: Severity
    score: float
    rationale: tuple[str, ...]
    moves: tuple[float, ...] = ()  # the sizes of the moves that applied


def estimate_impact(facts: Facts) -> Impact:
    """The alerting service and everything that depends on it; users of the most used one
    (the same people use the services in a chain, so users are not added up)."""
    services = (facts.service, *facts.dependents)
    users = [e.users for s in services if (e := facts.catalog.get(s)) and e.users is not None]
    return Impact(max(users) if users else None, services)


def non_incident_reason(facts: Facts, kn: Knowledge) -> str | None:
    """Why there is nothing to act on, or None. A breach or data loss is always acted on,
    unless the sender itself marked the notification as a test."""
    alert = facts.alert
    if alert.is_test:
        return "test notification"
    if facts.impact.name in NEVER_CLOSED:
        return None
    reasons = (
        (bool(kn.impact["test_notification"].search(facts.text.joined)), "test notification"),
        (facts.impact.name == "informational", facts.impact.reason),
        (alert.status is AlertStatus.RESOLVED, "alert already resolved"),
        (
            facts.breach.state == "within",
            f"value inside the threshold: {alert.current_value} against {alert.threshold}",
        ),
    )
    return next((why for applies, why in reasons if applies), None)


def assess(facts: Facts, impact: Impact, kn: Knowledge) -> Assessment:
    """The severity with the reasons for it."""
    kind = facts.impact.name
    rule = CLASSES[kind]
    least = min(rule.least, 1) if facts.impact.health_down else rule.least
    table = SEVERITY_TABLE[Severity(f"SEV{int(rule.base)}")].criteria
    lines = [
        f"impact class {kind}, SEV{int(rule.base)} by the table ({table}); "
        f"{_reach(rule.most, least)}: {facts.impact.reason}"
    ]
    score, moves = rule.base, []
    if rule.most != least:
        moves = [m for m in _moves(facts, impact, kn) if m[0]]
        lines.extend(f"move {why}: {delta:+.2f}" for delta, why in moves)
        total = sum(delta for delta, _ in moves)
        capped = min(max(total, -MOVES_CAP), MOVES_CAP)
        if capped != total:
            lines.append(f"moves {total:+.2f} in all, capped at {capped:+.2f}")
        score += capped
    rank = min(max(math.floor(score + 0.5), rule.most), least)
    severity = Severity(f"SEV{rank}")
    lines.append(
        f"score {format_number(round(score, 2))} -> {severity.value}: "
        f"{SEVERITY_TABLE[severity].criteria}"
    )
    if facts.impact.health_down:
        lines.append("health endpoint down: SEV1 minimum (runbook)")
    return Assessment(severity, round(score, 2), tuple(lines), tuple(d for d, _ in moves))


def _reach(most: int, least: int) -> str:
    return f"fixed at SEV{most}" if most == least else f"moves may reach SEV{most}-SEV{least}"


def _moves(facts: Facts, impact: Impact, kn: Knowledge) -> list[tuple[float, str]]:
    outage = facts.impact.name in ("outage", "complete_outage")
    tier = facts.entry.tier if facts.entry else None
    moves = [(TIER[tier], f"tier {tier}") if tier else (0.0, "")]
    moves.append(_users(impact.users_affected))
    if outage:
        alerting = {a.service for a in facts.related} & set(facts.dependents)
        moves.append(_dependents(len(alerting)))
        moves.append(_whole_service(facts))
    elif facts.impact.name in MEASURED:
        moves.extend(_distance(facts, kn))
    moves.append(_spread(facts))
    if found := first_phrase(kn.impact["limited_scope"], facts.text):
        quoted = facts.text.quote(found.start(), found.end(), width=60)
        moves.append((0.5, f'limited to one part: the alert says "{quoted}"'))
    if hint := facts.alert.severity_hint:
        delta = min(HINT[hint], 0.0) if outage else HINT[hint]
        if hint == "critical" and facts.impact.name != "minor":
            delta = 0.0  # senders call most alerts critical: it counts only when nothing else does
        moves.append((delta, f"the sender's hint {hint}"))
    return moves


def _whole_service(facts: Facts) -> tuple[float, str]:
    """A health endpoint down says the whole service is down, not one of its features: on
    the critical tier (the core path) that reaches the table's "complete outage"."""
    if not facts.impact.health_down:
        return 0.0, ""
    return WHOLE_SERVICE, "health endpoint down: the whole service, not one feature"


def _users(users: int | None) -> tuple[float, str]:
    """Few users make it less severe; many do not by themselves make it more (the table's
    "significant user impact" is the share failing, not the size of the user base)."""
    if users is None or users >= 50:
        return 0.0, ""
    return 0.25, f"only {users} users"


def _dependents(count: int) -> tuple[float, str]:
    if count >= 3:
        return -0.3, f"{count} services that depend on it alert too"
    return (-0.1, f"{count} service(s) that depend on it alert too") if count else (0.0, "")


def _distance(facts: Facts, kn: Knowledge) -> list[tuple[float, str]]:
    ratio = facts.breach.ratio
    if facts.breach.state != "breached" or ratio is None:
        return []
    shown = f"{facts.alert.current_value} is {format_number(round(ratio, 1))}x the limit"
    if ratio < 1.25:
        moves = [(0.5, f"{shown}, just past it")]
    elif ratio < 2:
        moves = [(0.25, f"{shown}, modestly past it")]
    else:
        moves = [(-0.25, f"{shown}, far past it") if ratio >= 20 else (0.0, shown)]
    value, metric = facts.value, facts.alert.metric or ""
    if value and value.unit == "%" and value.value >= 20 and kn.error_metric.search(metric):
        moves.append((-0.25, f"{format_number(value.value)}% of requests failing"))
    return moves


def _spread(facts: Facts) -> tuple[float, str]:
    alerts = len(facts.related) + 1
    if alerts >= STORM:
        return -0.5, f"alert storm: {alerts} open alerts, correlate and treat as one incident"
    others = {a.service for a in facts.related if a.service and a.service != facts.service}
    if len(others) >= WIDE:
        return -0.5, f"{len(others)} other services alerting"
    return 0.0, ""
