"""Signal evaluators: does one knowledge signal hold for these facts, and what data shows it.

Each evaluator returns a ``Hit`` (a strength multiplier for the signal's weight and an evidence
string citing the data) or None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from so1.agents.triage.facts import Facts, age_text
from so1.agents.triage.impact import describe_value, first_phrase
from so1.agents.triage.knowledge import Knowledge, Signal
from so1.agents.triage.values import align_units, format_number, parse_quantity
from so1.domain.alerts import Alert
from so1.domain.changes import Deployment

REGION_LABELS = ("region", "zone", "availability_zone", "az", "datacenter", "location")
FAILED_DEPLOYS = ("failed", "rolled_back", "rollback", "error", "crashed")
GRADUAL_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Hit:
    strength: float
    evidence: str


Evaluator = Callable[[Signal, Facts, Knowledge], Hit | None]


def evaluate(signal: Signal, facts: Facts, kn: Knowledge) -> Hit | None:
    """The signal's hit, honouring its ``requires`` and ``unless`` conditions."""
    if not all(holds(c, facts, kn) for c in signal.requires):
        return None
    if any(holds(c, facts, kn) for c in signal.unless):
        return None
    return EVALUATORS[signal.when](signal, facts, kn)


def holds(condition: str, facts: Facts, kn: Knowledge) -> bool:
    return EVALUATORS[condition](Signal(condition, 1.0), facts, kn) is not None


def recency(age: timedelta | None) -> float:
    """How much a change weighs by its age: the runbook looks at the last 4 hours first."""
    if age is None:
        return 0.6
    if age <= timedelta(hours=1):
        return 1.0
    return 0.7 if age <= timedelta(hours=4) else 0.3


def describe_alert(alert: Alert) -> str:
    """An alert by what it measured, or by what it says."""
    if alert.metric and alert.current_value is not None:
        return describe_value(alert, alert.service)
    return f'{alert.service} says "{alert.summary or alert.metric or "alerting"}"'


def describe_deployment(dep: Deployment, age: timedelta | None) -> str:
    """ "deployment v2.14.0 of control-plane-api 4h ago (previous v2.13.2, by ..., commit ...)"."""
    extra = [
        f"previous {dep.previous_version}" if dep.previous_version else "",
        f"by {dep.deployed_by}" if dep.deployed_by else "",
        f"commit {dep.commit_sha}" if dep.commit_sha else "",
    ]
    detail = ", ".join(e for e in extra if e)
    text = f"deployment {dep.version} of {dep.service} {age_text(age)}"
    return f"{text} ({detail})" if detail else text


def _matches(signal: Signal, text: str | None) -> bool:
    return bool(text) and signal.pattern is not None and bool(signal.pattern.search(text or ""))


def _metric(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    if not _matches(signal, facts.alert.metric):
        return None
    ratio = facts.breach.ratio
    past = (
        f", {format_number(ratio)}x the limit" if ratio and facts.breach.state == "breached" else ""
    )
    return Hit(1.0, f"{describe_value(facts.alert, facts.service)}{past}")


def _related_metric(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    for alert in facts.scoped:
        if _matches(signal, alert.metric):
            return Hit(1.0, f"{describe_alert(alert)} (alert {alert.id})")
    return None


def _text(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    """The alert's words match; a phrase a negation cancels ("no memory leak") does not count,
    except for a signal against its cause (negative weight), whose phrase is a denial."""
    if signal.pattern is None:
        return None
    text = facts.text
    if signal.weight < 0:
        found = signal.pattern.search(text.joined)
    else:
        found = first_phrase(signal.pattern, text)
    if found is None:
        return None
    quoted = text.quote(found.start(), found.end())
    if signal.weight < 0:
        return Hit(1.0, f'the alert rules it out: "{quoted}"')
    return Hit(1.0, f'alert says "{quoted}"')


def _related_text(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    for alert in facts.scoped:
        text = facts.related_texts.get(alert.id, "")
        if _matches(signal, text):
            return Hit(1.0, f'{alert.service} alert {alert.id} says "{_clip(text)}"')
    return None


def _recent_deployment(_signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    if not facts.deployments:
        return None
    dep, age = facts.deployments[0]
    return Hit(recency(age), describe_deployment(dep, age))


def _deployment_config(_signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    for dep, age in facts.deployments:
        if dep.config:
            keys = ", ".join(sorted(dep.config))
            return Hit(
                recency(age), f"{describe_deployment(dep, age)} changed configuration: {keys}"
            )
    return None


def _deployment_failed(_signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    for dep, age in facts.deployments:
        if (dep.status or "").lower() in FAILED_DEPLOYS:
            return Hit(recency(age), f"{describe_deployment(dep, age)} ended {dep.status}")
    return None


def _flag_change(_signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    for flag, age in facts.flags:
        if flag.enabled_before != flag.enabled_after:
            state = "on" if flag.enabled_after else "off"
            actor = f" by {flag.actor}" if flag.actor else ""
            return Hit(recency(age), f"flag {flag.key} turned {state} {age_text(age)}{actor}")
    return None


def _dependency_alerts(signal: Signal, facts: Facts) -> Iterable[Alert]:
    for alert in facts.scoped:
        name = alert.service or ""
        if name == facts.service or name not in facts.dependencies:
            continue
        if signal.pattern is not None and not signal.pattern.search(name):
            continue
        if signal.exclude is not None and signal.exclude.search(name):
            continue
        yield alert


def _dependency_alerting(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    alert = next(iter(_dependency_alerts(signal, facts)), None)
    if alert is None:
        return None
    return Hit(
        1.0, f"dependency {alert.service} alerting: {describe_alert(alert)} (alert {alert.id})"
    )


def _dependency_down(signal: Signal, facts: Facts, kn: Knowledge) -> Hit | None:
    for alert in _dependency_alerts(signal, facts):
        if is_down(alert, facts.related_texts.get(alert.id, ""), kn):
            return Hit(1.0, f"dependency {alert.service} is down (alert {alert.id})")
    return None


def is_down(alert: Alert, text: str, kn: Knowledge) -> bool:
    """A related alert that says its service is down (health check failing, outage words)."""
    if alert.metric and kn.health_metric.search(alert.metric):
        value = parse_quantity(alert.current_value, kn.states)
        if value is not None and value.value == 0:
            return True
    return bool(kn.impact["outage"].search(text))


def _services_alerting(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    others = sorted({a.service for a in facts.related if a.service and a.service != facts.service})
    if len(others) < signal.minimum:
        return None
    shown = ", ".join(others[:6]) + (", ..." if len(others) > 6 else "")
    return Hit(1.0, f"{len(others)} other services alerting: {shown}")


def _region_alerting(_signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    where = region_of(facts.alert)
    if where is None:
        return None
    others = sorted(
        {
            a.service
            for a in facts.related
            if a.service and a.service != facts.service and where in a.labels.values()
        }
    )
    if not others:
        return None
    return Hit(1.0, f"{len(others)} other services alerting in {where}: {', '.join(others)}")


def region_of(alert: Alert) -> str | None:
    for key in REGION_LABELS:
        if alert.labels.get(key):
            return alert.labels[key]
    return None


def _impact(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    return Hit(1.0, facts.impact.reason) if facts.impact.name in signal.kinds else None


def _gradual(signal: Signal, facts: Facts, kn: Knowledge) -> Hit | None:
    metric = facts.alert.metric
    for alert in facts.scoped:
        seen = alert.first_seen_at
        same = alert.service == facts.service and bool(metric) and alert.metric == metric
        if same and seen and facts.now is not None and facts.now - seen >= GRADUAL_AFTER:
            since = f"{seen:%Y-%m-%d %H:%M}Z ({age_text(facts.now - seen)})"
            return Hit(1.0, f"{metric} on {facts.service} alerting since {since}")
    return _text(signal, facts, kn)


def _above_baseline(signal: Signal, facts: Facts, kn: Knowledge) -> Hit | None:
    metric = facts.alert.metric
    if facts.entry is None or not metric or not _matches(signal, metric):
        return None
    base = parse_quantity(facts.entry.baselines.get(metric), kn.states)
    if base is None or facts.value is None or base.value <= 0:
        return None
    aligned = align_units(facts.value, base)
    if aligned is None or aligned[0].value < signal.factor * aligned[1].value:
        return None
    times = format_number(round(aligned[0].value / aligned[1].value, 1))
    shown = facts.entry.baselines[metric]
    return Hit(1.0, f"{describe_value(facts.alert)}, {times}x the baseline {shown}")


def _service(signal: Signal, facts: Facts, _kn: Knowledge) -> Hit | None:
    return (
        Hit(1.0, f"the alerting service is {facts.service}")
        if _matches(signal, facts.service)
        else None
    )


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


EVALUATORS: dict[str, Evaluator] = {
    "metric": _metric,
    "related_metric": _related_metric,
    "text": _text,
    "related_text": _related_text,
    "recent_deployment": _recent_deployment,
    "deployment_config": _deployment_config,
    "deployment_failed": _deployment_failed,
    "flag_change": _flag_change,
    "dependency_alerting": _dependency_alerting,
    "dependency_down": _dependency_down,
    "services_alerting": _services_alerting,
    "region_alerting": _region_alerting,
    "impact": _impact,
    "gradual": _gradual,
    "above_baseline": _above_baseline,
    "service": _service,
}
