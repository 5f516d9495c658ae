"""What the triage-responder is shown: the alert, and from the database the catalog around
its service, recent deployments and flag flips, related alerts and similar past incidents
(DESIGN §3 inputs), as the domain records themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from so1.agents.triage import ServiceFlagChange, TriageInput
from so1.domain.alerts import Alert
from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FlagChange
from so1.domain.intake import DEFAULT_RULE, CorrelationRule, connected_services
from so1.domain.plain import plain
from so1.ports import UnitOfWork
from so1.services.incidents.similar import Past, past_incidents, similar_incidents

DEPLOY_LOOKBACK = timedelta(hours=4)
MAX_RELATED = 50


@dataclass(frozen=True, slots=True)
class RecentChanges:
    """The deployments and flag flips of the last hours, and the resolved incidents triage
    compares alerts with."""

    deployments: tuple[Deployment, ...]
    flips: tuple[tuple[FlagChange, str | None], ...]
    past: tuple[Past, ...]


class Surroundings:
    """What every alert of a triage pass is decided against, read once per pass: the
    correlation rule, the catalog and its dependency graph, and the recent changes. Those
    are read when the agent first needs them: a pass whose alerts all join open incidents
    (a storm's) never does, and skips four queries."""

    __slots__ = ("_changes", "_read_changes", "catalog", "graph", "rule")

    def __init__(
        self,
        rule: CorrelationRule,
        catalog: tuple[CatalogService, ...],
        read_changes: Callable[[], RecentChanges],
    ) -> None:
        self.rule, self.catalog = rule, catalog
        self.graph: dict[str, list[str]] = {s.name: s.dependencies for s in catalog}
        self._read_changes = read_changes
        self._changes: RecentChanges | None = None

    @property
    def changes(self) -> RecentChanges:
        if self._changes is None:
            self._changes = self._read_changes()
        return self._changes


def surroundings(uow: UnitOfWork, now: datetime) -> Surroundings:
    """What a pass decides its alerts against (only reads; the recent changes once asked)."""

    def read_changes() -> RecentChanges:
        return RecentChanges(
            deployments=tuple(uow.deployments.recent(now - DEPLOY_LOOKBACK, None)),
            flips=tuple(uow.flags.changes_since(now - DEPLOY_LOOKBACK)),
            past=tuple(past_incidents(uow)),
        )

    rule = next((r for r in uow.intake.rules() if r.enabled), DEFAULT_RULE)
    return Surroundings(rule, tuple(uow.catalog.all()), read_changes)


def triage_inputs(
    uow: UnitOfWork,
    alert: Alert,
    now: datetime,
    window: timedelta,
    around: Surroundings | None = None,
) -> TriageInput:
    """The agent's inputs for ``alert``; only reads. ``around``: what the pass read once
    (read here when not given)."""
    around = around or surroundings(uow, now)
    graph = around.graph
    services = connected_services(alert.service, graph) if alert.service else set()

    def in_scope(name: str) -> bool:
        return not services or name in services

    # Read no more than is shown: on a storm's service the window holds thousands of alerts.
    nearby = uow.alerts.recent(sorted(services), now - window, MAX_RELATED + 1)
    related = [a for a in nearby if a.id != alert.id]
    query = f"{alert.summary} {alert.service or ''} {alert.metric or ''}"
    changes = around.changes
    similar = similar_incidents(uow, query, alert.incident_id, corpus=changes.past)
    return TriageInput(
        alert=alert,
        now=now,
        services=tuple(s for s in around.catalog if s.name in services),
        deployments=tuple(d for d in changes.deployments if in_scope(d.service)),
        flag_changes=tuple(
            ServiceFlagChange(change, service)
            for change, service in changes.flips
            if service is None or in_scope(service)
        ),
        related_alerts=tuple(related[:MAX_RELATED]),
        incident_id=alert.incident_id,
        similar_incidents=tuple(similar),
    )


def recorded(inputs: TriageInput) -> dict[str, Any]:
    """The inputs as the agent run keeps them (JSON); related alerts without their details,
    as before, so a run's record stays small."""
    lean = tuple(replace(a, details={}) for a in inputs.related_alerts)
    kept: dict[str, Any] = plain(replace(inputs, related_alerts=lean))
    return kept
