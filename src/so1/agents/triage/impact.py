"""The alert's impact class, in the order of the runbook's severity table: the table's own
words decide it, and a crossed threshold only says "degraded" when nothing says more.

1. ``security_breach`` and ``data_loss`` (SEV0): the alert's text says so;
2. ``complete_outage`` (SEV0): the text says everything or everyone is down;
3. ``outage`` (SEV1, "major feature down"): a health check down, nearly all requests failing,
   nothing getting through, or outage words;
4. ``security_anomaly`` (SEV1-3): signs of an attack that is not (yet) a breach;
5. ``cosmetic`` (SEV4): cosmetic words and no words of something not working;
6. ``workaround`` (SEV3): a workaround, or a minor issue that still gets the work done;
7. ``monitoring_gap`` (SEV2-3): the monitor lost its data, the value is not past the limit;
8. ``degraded`` (SEV2): the rest.

A phrase counts only when no negation ("no", "not", "without", ...) stands just before it in
the same clause: "no data loss" is not data loss, "no workaround" is not a workaround.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from so1.agents.triage.knowledge import Knowledge, Match, Pattern
from so1.agents.triage.text import AlertText
from so1.agents.triage.thresholds import Breach
from so1.agents.triage.values import Quantity
from so1.domain.alerts import Alert

NEGATION = re.compile(
    r"\b(?:no|not|never|without|none|nothing|zero|isn't|aren't|wasn't|weren't|"
    r"doesn't|didn't|ruled out|avoid|prevent|prevents|prevented)\b[^.;:,|!?]*$",
    re.IGNORECASE,
)
CLAUSE_END = re.compile(r"[.;:,|!?\n]|\bbut\b", re.IGNORECASE)
LOOKBACK = 40  # characters before a phrase searched for a negation
MAX_TRIED = 64  # occurrences of a pattern checked for a negation before giving up
WORDS = {
    "security_breach": "security breach",
    "data_loss": "data loss or corruption",
    "complete_outage": "complete outage",
    "informational": "planned, informational or outside production",
    "attack_blocked": "an attack that was stopped",
    "outage": "major feature down",
    "security_anomaly": "possible attack",
    "cosmetic": "cosmetic issue",
    "workaround": "minor issue or workaround available",
    "no_impact": "nothing is failing",
    "degraded": "degraded",
    "early_warning": "an early warning",
    "monitoring_gap": "visibility lost",
}
MINORITY = 25.0  # a text's "N% of ... fail" under this is a minority: degraded, not an outage
EVERYONE = 80.0  # ... at or above this, (nearly) everyone: a complete outage
_NUMBER = re.compile(r"\d{1,3}(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class ImpactClass:
    name: str  # see severity.CLASSES
    reason: str  # the phrase or fact that set it
    health_down: bool = False  # the runbook's "health endpoints down": SEV1 minimum
    worded: bool = False  # set by a phrase of the alert alone: nothing measures how much fails


def first_phrase(pattern: Pattern, text: AlertText) -> Match | None:
    """The first match of ``pattern`` in the alert's text that no negation cancels (among the
    first MAX_TRIED: an alert repeating a denied phrase cannot make triage slow)."""
    for tried, found in enumerate(pattern.finditer(text.joined)):
        if tried >= MAX_TRIED:
            break
        if not negated(text.joined, found.start()):
            return found
    return None


def negated(text: str, start: int) -> bool:
    """Whether a negation stands before ``start`` in the same clause (within 40 characters)."""
    window = text[max(0, start - LOOKBACK) : start]
    ends = list(CLAUSE_END.finditer(window))
    clause = window[ends[-1].end() :] if ends else window
    return NEGATION.search(clause) is not None


def classify(
    alert: Alert,
    value: Quantity | None,
    breach: Breach,
    text: AlertText,
    kn: Knowledge,
    core: bool = True,
    users: int | None = None,
) -> ImpactClass:
    """The alert's impact class and why; the severity table starts from it. ``core``: the
    service is on the core path (critical tier, or not in the catalog): words of a failure
    with no measure of it are degraded there, a minor issue elsewhere. ``users``: the
    catalog's users of the service, against which the sender's count of affected users is a
    share."""
    share = failing_share(text, kn) or users_share(alert, users)
    checks: tuple[Callable[[], ImpactClass | None], ...] = (
        lambda: (
            said("security_breach", text, kn) or _by_metric("security_breach", alert, breach, kn)
        ),
        lambda: said("data_loss", text, kn) or _by_metric("data_loss", alert, breach, kn),
        lambda: said("complete_outage", text, kn) or _share_class(share, EVERYONE, None),
        lambda: _informational(alert, text, kn),
        lambda: said("attack_blocked", text, kn) if _anomaly(alert, text, kn) else None,
        lambda: _share_class(share, MINORITY, EVERYONE) or _minority(share),
        lambda: _outage(alert, value, breach, text, kn, core),
        lambda: _anomaly(alert, text, kn),
        lambda: _cosmetic(text, kn),
        lambda: said("workaround", text, kn),
        lambda: said("no_impact", text, kn),
        lambda: said("early_warning", text, kn),
        lambda: said("monitoring_gap", text, kn) if breach.state != "breached" else None,
    )
    for check in checks:
        if found := check():
            return found
    if breach.state == "breached":
        reason = f"{describe_value(alert)} is past its threshold; no sign of an outage"
        return ImpactClass("degraded", reason)
    if affected_users(alert) == 1:
        return ImpactClass("no_impact", "one user affected: a ticket")
    words = first_phrase(kn.functional, text) or first_phrase(kn.impact["degraded"], text)
    if words and core:
        quoted = text.quote(words.start(), words.end())
        return ImpactClass(
            "degraded", f'the core path is failing or slow: the alert says "{quoted}"', worded=True
        )
    why = "nothing measures how much fails" if words else "nothing says what fails or how much"
    return ImpactClass("minor", f"{why}: a minor issue until known")


def affected_users(alert: Alert) -> int | None:
    """The users the sender says are affected (Sentry's userCount and the like), if it says."""
    for key in ("userCount", "user_count", "users_affected", "affected_users"):
        value = alert.details.get(key)
        if isinstance(value, int | str) and str(value).isdigit():
            return int(value)
    return None


def users_share(alert: Alert, users: int | None) -> tuple[float, str] | None:
    """The share of the service's users the sender counts as affected (Sentry's userCount
    against the catalog's users), when it is a significant one (MINORITY or more): a count
    alone says nothing of how much fails, so a small one is not read as a minority."""
    affected = affected_users(alert)
    if not affected or not users or affected > users:
        return None
    percent = 100.0 * affected / users
    if percent < MINORITY:
        return None
    return percent, f"{affected} of the service's {users} users affected"


def failing_share(text: AlertText, kn: Knowledge) -> tuple[float, str] | None:
    """The share the text says is failing ("30% of page loads time out"), with its words."""
    found = first_phrase(kn.impact["failing_share"], text)
    if found is None:
        return None
    phrase = text.joined[found.start() : found.end()]
    number = _NUMBER.search(phrase)
    return (float(number.group(0)), f'the alert says "{phrase}"') if number else None


def _share_class(
    share: tuple[float, str] | None, low: float, high: float | None
) -> ImpactClass | None:
    if share is None or share[0] < low or (high is not None and share[0] >= high):
        return None
    name = "complete_outage" if high is None else "outage"
    return ImpactClass(name, f"{WORDS[name]}: {share[1]}")


def _minority(share: tuple[float, str] | None) -> ImpactClass | None:
    if share is None or share[0] >= MINORITY:
        return None
    return ImpactClass("degraded", f"a minority failing: {share[1]}")


def _by_metric(name: str, alert: Alert, breach: Breach, kn: Knowledge) -> ImpactClass | None:
    metric = alert.metric or ""
    if breach.state != "breached" or not metric:
        return None
    if kn.impact[f"{name}_metrics"].search(metric) is None:
        return None
    return ImpactClass(name, f"{WORDS[name]}: {describe_value(alert)}")


def _informational(alert: Alert, text: AlertText, kn: Knowledge) -> ImpactClass | None:
    """Planned work, a success notice, or an alert from outside production."""
    for key in ("env", "environment", "stage"):
        value = alert.labels.get(key) or alert.details.get(key)
        if isinstance(value, str) and kn.impact["non_production"].search(value.strip()):
            return ImpactClass("informational", f"outside production: {key}={value}")
    found = said("informational", text, kn)
    if found is None or (first_phrase(kn.functional, text) and not _planned(text, kn)):
        return None
    return found


def _planned(text: AlertText, kn: Knowledge) -> bool:
    """Planned or non-production words stand even beside failures ("load test", a change)."""
    found = first_phrase(kn.impact["informational"], text)
    if found is None:
        return False
    words = text.joined[found.start() : found.end()].lower()
    return any(w in words for w in ("plan", "schedul", "announc", "staging", "load test", "change"))


def _cosmetic(text: AlertText, kn: Knowledge) -> ImpactClass | None:
    """Cosmetic words, and none that say something does not work."""
    found = said("cosmetic", text, kn)
    return found if found and not first_phrase(kn.functional, text) else None


def said(name: str, text: AlertText, kn: Knowledge) -> ImpactClass | None:
    found = first_phrase(kn.impact[name], text)
    if found is None:
        return None
    quoted = text.quote(found.start(), found.end())
    return ImpactClass(name, f'{WORDS[name]}: the alert says "{quoted}"', worded=True)


def _anomaly(alert: Alert, text: AlertText, kn: Knowledge) -> ImpactClass | None:
    if found := said("security_anomaly", text, kn):
        return found
    metric = alert.metric or ""
    if metric and kn.impact["security_anomaly_metrics"].search(metric):
        return ImpactClass("security_anomaly", f"possible attack: {describe_value(alert)}")
    return None


def _outage(
    alert: Alert,
    value: Quantity | None,
    breach: Breach,
    text: AlertText,
    kn: Knowledge,
    core: bool,
) -> ImpactClass | None:
    metric = alert.metric or ""
    if breach.state == "breached" and metric and value is not None:
        shown = describe_value(alert)
        if kn.health_metric.search(metric) and value.value == 0:
            return ImpactClass("outage", f"health endpoint down: {shown}", health_down=True)
        if (
            core
            and value.unit == "%"
            and value.value >= EVERYONE
            and kn.error_metric.search(metric)
        ):
            return ImpactClass("complete_outage", f"(nearly) every request fails: {shown}")
        if reason := _failing(metric, value, kn):
            return ImpactClass("outage", f"{reason}: {shown}")
    return said("outage", text, kn)


def _failing(metric: str, value: Quantity, kn: Knowledge) -> str | None:
    if value.unit == "%" and kn.error_metric.search(metric):
        return "nearly all requests fail" if value.value >= kn.outage_error_percent else None
    if value.unit == "%" and kn.success_metric.search(metric):
        return "nearly all requests fail" if value.value <= kn.outage_success_percent else None
    if value.value == 0 and kn.throughput_metric.search(metric):
        return "nothing is getting through"
    return None


def describe_value(alert: Alert, service: str | None = None) -> str:
    """ "error_rate at 12% on control-plane-api (threshold < 1%)" from the alert's own words."""
    value = alert.current_value
    text = f"{alert.metric or 'value'} at {value}" if value is not None else alert.metric or ""
    text = f"{text} on {service}" if service else text
    return f"{text} (threshold {alert.threshold})" if alert.threshold else text
