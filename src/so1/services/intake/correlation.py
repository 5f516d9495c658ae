"""Correlation rules (kept in the database, with a dry run) and silences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from so1.domain.alerts import Alert
from so1.domain.intake import (
    DEFAULT_RULE,
    CorrelationRule,
    GroupKey,
    Silence,
    connected_services,
    group_key,
)
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record

DRY_RUN_LIMIT = 10_000


def list_rules(uow_factory: UnitOfWorkFactory) -> list[CorrelationRule]:
    with uow_factory(read_only=True) as uow:
        return uow.intake.rules() or [DEFAULT_RULE]


def get_rule(uow_factory: UnitOfWorkFactory, name: str) -> CorrelationRule:
    found = next((r for r in list_rules(uow_factory) if r.name == name), None)
    if found is None:
        raise NotFound(f"correlation rule '{name}' does not exist")
    return found


def put_rule(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, rule: CorrelationRule
) -> CorrelationRule:
    _check_group_by(rule.group_by)
    now = clock.now()
    with uow_factory() as uow:
        stored = uow.intake.put_rule(rule, now)
        detail = {
            "group_by": rule.group_by,
            "window_seconds": rule.window.total_seconds(),
            "storm_threshold": rule.storm_threshold,
            "enabled": rule.enabled,
        }
        record(uow, actor, now, Change("rule.put", "correlation_rule", rule.name, "saved", detail))
        uow.commit()
    return stored


_GROUPABLE = {"service", "source", "metric", "severity_hint"}


def _check_group_by(names: list[str]) -> None:
    for name in names:
        if name not in _GROUPABLE and not name.startswith("labels."):
            known = ", ".join(sorted(_GROUPABLE))
            raise ValidationFailed(
                f"cannot group by '{name}'; use {known} or labels.NAME", "group_by"
            )


@dataclass
class Group:
    key: GroupKey
    services: set[str]
    alerts: list[Alert] = field(default_factory=list)


def dry_run(
    uow_factory: UnitOfWorkFactory, clock: Clock, rule: CorrelationRule, hours: float
) -> tuple[int, list[Group]]:
    """How ``rule`` would have grouped the alerts of the last ``hours``; changes nothing."""
    with uow_factory(read_only=True) as uow:
        alerts = uow.alerts.first_seen_since(clock.now() - timedelta(hours=hours), DRY_RUN_LIMIT)
        graph = {s.name: s.dependencies for s in uow.catalog.all()}
    groups: list[Group] = []
    for alert in alerts:
        services = _scope(alert, rule, graph)
        target = next((g for g in reversed(groups) if _joins(g, alert, services, rule)), None)
        if target is None:
            groups.append(Group(group_key(alert, rule), services, [alert]))
        else:
            target.alerts.append(alert)
            target.services |= services
    return len(alerts), groups


def _scope(alert: Alert, rule: CorrelationRule, graph: dict[str, list[str]]) -> set[str]:
    if not alert.service:
        return set()
    return connected_services(alert.service, graph) if rule.follow_dependencies else {alert.service}


def _joins(group: Group, alert: Alert, services: set[str], rule: CorrelationRule) -> bool:
    last = group.alerts[-1]
    if alert.first_seen_at - last.first_seen_at > rule.window:
        return False
    other_fields = [n for n in rule.group_by if n != "service"]
    same_fields = all(
        dict(group.key.values).get(n) == dict(group_key(alert, rule).values).get(n)
        for n in other_fields
    )
    related = bool(services & group.services) if "service" in rule.group_by else True
    return same_fields and related


def add_silence(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    matchers: dict[str, str],
    reason: str,
    starts_at: datetime | None,
    ends_at: datetime,
) -> Silence:
    now = clock.now()
    start = starts_at or now
    if ends_at <= start:
        raise ValidationFailed("ends_at must be after starts_at", "ends_at")
    silence = Silence(matchers, start, ends_at, reason, actor.name, now)
    with uow_factory() as uow:
        stored = uow.intake.add_silence(silence)
        detail = {"matchers": matchers, "ends_at": ends_at.isoformat(), "reason": reason}
        record(uow, actor, now, Change("silence.add", "silence", str(stored.id), "added", detail))
        uow.commit()
    return stored


def list_silences(uow_factory: UnitOfWorkFactory) -> list[Silence]:
    with uow_factory(read_only=True) as uow:
        return uow.intake.silences()


def expire_silence(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, silence_id: int
) -> None:
    now = clock.now()
    with uow_factory() as uow:
        if not uow.intake.expire_silence(silence_id, now):
            raise NotFound(f"silence {silence_id} does not exist or has already expired")
        record(uow, actor, now, Change("silence.expire", "silence", str(silence_id), "expired"))
        uow.commit()
