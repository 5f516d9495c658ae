"""Which alerts are decided together: the services an alert may be grouped with (its
dependency group, when the rule follows dependencies), the name of the lock a group's
decisions are serialised on, and the open incident of each group, found for a whole pass in
one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from so1.domain.intake import CorrelationRule, connected_services
from so1.ports import OpenIncidentOn, UnitOfWork

Scope = frozenset[str]


def scope_of(service: str | None, rule: CorrelationRule, graph: dict[str, list[str]]) -> Scope:
    """The services whose alerts an alert on ``service`` may be grouped with."""
    if not service:
        return frozenset()
    if not rule.follow_dependencies:
        return frozenset({service})
    return frozenset(connected_services(service, graph))


def group_key(
    service: str | None, rule: CorrelationRule, graph: dict[str, list[str]]
) -> str | None:
    """What names the group of services whose alerts are decided one at a time: the first
    service of the dependency group (None: an alert with no service correlates with none)."""
    scope = scope_of(service, rule, graph)
    return min(scope) if scope else None


def open_incidents_around(uow: UnitOfWork, scopes: Iterable[Scope]) -> dict[Scope, str | None]:
    """The open incident each group of services belongs to (the newest one open on its
    services or holding an alert on them; None when none is), in one query for them all:
    what ``open_incident_for`` answers for one group."""
    wanted = {scope for scope in scopes if scope}
    services = sorted(set().union(*wanted)) if wanted else []
    on: dict[str, list[OpenIncidentOn]] = defaultdict(list)
    for found in uow.alerts.open_incidents_for(services):
        on[found.service].append(found)
    return {scope: _newest([o for s in scope for o in on.get(s, [])]) for scope in wanted}


def _newest(found: list[OpenIncidentOn]) -> str | None:
    if not found:
        return None
    return max(found, key=lambda o: (o.detected_at, o.incident_id)).incident_id
