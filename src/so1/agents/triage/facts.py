"""What triage knows about one alert: the catalog entry, the graph around it, parsed values,
the impact class, and the related alerts, deployments and flag flips that matter.

Everything is derived from the inputs (time included: ``context.now``), never from a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from so1.agents.triage.contract import TriageInput
from so1.agents.triage.impact import ImpactClass, classify
from so1.agents.triage.knowledge import Knowledge
from so1.agents.triage.text import RELATED_TOTAL, AlertText, alert_text
from so1.agents.triage.thresholds import Breach, Direction, compare
from so1.agents.triage.values import (
    Quantity,
    Threshold,
    parse_quantity,
    parse_threshold,
)
from so1.domain.alerts import Alert, AlertStatus
from so1.domain.catalog import CatalogService, Tier
from so1.domain.changes import Deployment, FlagChange

RECENT = timedelta(hours=24)
OPEN_STATUSES = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)
HEALTHY = Threshold(">=", Quantity(1.0), text="up (a health check with no threshold)")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Facts:
    alert: Alert
    service: str  # the catalog's name when the alert's name resolves to an entry
    entry: CatalogService | None
    catalog: dict[str, CatalogService]
    value: Quantity | None
    threshold: Threshold | None
    breach: Breach
    text: AlertText  # the alert's words, from every field, capped
    impact: ImpactClass  # the severity table's starting point
    related: tuple[Alert, ...]  # open related alerts (service names resolved)
    related_texts: dict[str, str]  # their words, by alert id
    scoped: tuple[Alert, ...]  # ... on the service itself or one of its dependencies
    dependencies: tuple[str, ...]  # transitive, nearest first
    dependents: tuple[str, ...]  # transitive, nearest first
    deployments: tuple[tuple[Deployment, timedelta | None], ...]  # the service's, newest first
    flags: tuple[tuple[FlagChange, timedelta | None], ...]  # newest first
    now: datetime


def gather(inp: TriageInput, kn: Knowledge) -> Facts:
    """Collect the facts triage decides on."""
    catalog = {s.name: s for s in inp.services}
    service = resolve(inp.alert.service or "", catalog)
    value = parse_quantity(inp.alert.current_value, kn.states)
    threshold = parse_threshold(inp.alert.threshold, kn.states)
    metric = inp.alert.metric or ""
    if threshold is None and metric and kn.health_metric.search(metric):
        threshold = HEALTHY
    breach = compare(value, threshold, metric_direction(metric, kn))
    related = tuple(_open_related(inp, catalog))
    dependencies = walk(service, catalog, upstream=True)
    text = alert_text(inp.alert)
    return Facts(
        alert=inp.alert,
        service=service,
        entry=catalog.get(service),
        catalog=catalog,
        value=value,
        threshold=threshold,
        breach=breach,
        text=text,
        impact=_classify(inp, value, breach, text, kn, catalog.get(service)),
        related=related,
        related_texts={a.id: alert_text(a, RELATED_TOTAL).joined for a in related},
        scoped=tuple(a for a in related if a.service in (service, *dependencies)),
        dependencies=dependencies,
        dependents=walk(service, catalog, upstream=False),
        deployments=_recent(
            ((d, d.deployed_at) for d in inp.deployments if resolve(d.service, catalog) == service),
            inp.now,
        ),
        flags=_recent(
            (
                (f.change, f.change.changed_at)
                for f in inp.flag_changes
                if f.service is None or resolve(f.service, catalog) == service
            ),
            inp.now,
        ),
        now=inp.now,
    )


def _classify(
    inp: TriageInput,
    value: Quantity | None,
    breach: Breach,
    text: AlertText,
    kn: Knowledge,
    entry: CatalogService | None,
) -> ImpactClass:
    users = entry.users if entry else None
    return classify(inp.alert, value, breach, text, kn, core=_core(entry), users=users)


def _core(entry: CatalogService | None) -> bool:
    """On the core path: a critical service, or one the catalog does not know."""
    return entry is None or entry.tier is Tier.CRITICAL


def resolve(name: str, catalog: dict[str, CatalogService]) -> str:
    """The catalog name for ``name``: exact, or equal once an organisation prefix is dropped
    from either side ("so1-control-plane-api" is "control-plane-api")."""
    if name in catalog or not name:
        return name
    lowered = name.lower()
    for known in sorted(catalog):
        k = known.lower()
        if lowered == k or _strip_prefix(lowered) == k or _strip_prefix(k) == lowered:
            return known
    return name


def _strip_prefix(name: str) -> str:
    return name.split("-", 1)[1] if "-" in name else name


def walk(service: str, catalog: dict[str, CatalogService], *, upstream: bool) -> tuple[str, ...]:
    """Transitive dependencies (upstream) or dependents (downstream), nearest first."""
    seen: list[str] = []
    frontier = [service]
    while frontier:
        step: set[str] = set()
        for name in frontier:
            step.update(_neighbours(name, catalog, upstream=upstream))
        frontier = sorted(step - {service, *seen})
        seen.extend(frontier)
    return tuple(seen)


def _neighbours(name: str, catalog: dict[str, CatalogService], *, upstream: bool) -> Iterable[str]:
    if upstream:
        entry = catalog.get(name)
        return entry.dependencies if entry else ()
    return (s.name for s in catalog.values() if name in s.dependencies)


def metric_direction(metric: str, kn: Knowledge) -> Direction | None:
    """Which side of a limit is bad for this metric, by its name; None when the name does not
    say. Used only for a threshold written without an operator."""
    if not metric:
        return None
    if found := kn.lower_is_worse.search(metric) or kn.health_metric.search(metric):
        said = metric[found.start() : found.end()]
        return Direction(False, f'the metric name "{metric}" says so ("{said}")')
    if found := kn.higher_is_worse.search(metric):
        said = metric[found.start() : found.end()]
        return Direction(True, f'the metric name "{metric}" says so ("{said}")')
    return None


def age_text(age: timedelta | None) -> str:
    """ "4h ago", "25m ago", "2d ago"."""
    if age is None:
        return "recently"
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m ago"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24}d ago"
    return f"{hours}h ago" if rest == 0 else f"{hours}h{rest}m ago"


def _open_related(inp: TriageInput, catalog: dict[str, CatalogService]) -> Iterable[Alert]:
    for related in inp.related_alerts:
        if related.status not in OPEN_STATUSES or related.is_test:
            continue
        if related.id is not None and related.id == inp.alert.id:
            continue
        name = related.service
        yield related if name is None else _with_service(related, resolve(name, catalog))


def _with_service(alert: Alert, service: str) -> Alert:
    return alert if alert.service == service else replace(alert, service=service)


def _recent(
    items: Iterable[tuple[_T, datetime]], now: datetime
) -> tuple[tuple[_T, timedelta | None], ...]:
    """Changes up to 24 h old, newest first."""
    kept = [(item, now - at, at) for item, at in items if timedelta(0) <= now - at <= RECENT]
    kept.sort(key=lambda k: k[2], reverse=True)
    return tuple((item, age) for item, age, _ in kept)
