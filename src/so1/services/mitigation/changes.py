"""Use cases for what changes production: the service catalog, deployments, feature flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FeatureFlag, FlagChange
from so1.domain.incidents import OPEN_STATUSES
from so1.domain.timeline import EventKind
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory, UrlGuard
from so1.services.access.clearance import require_act
from so1.services.incidents.recording import Actor, Change, note, record


def get_service(uow_factory: UnitOfWorkFactory, name: str) -> CatalogService:
    with uow_factory(read_only=True) as uow:
        service = uow.catalog.get(name)
    if service is None:
        raise NotFound(f"service '{name}' is not in the catalog")
    return service


def list_services(uow_factory: UnitOfWorkFactory) -> list[CatalogService]:
    with uow_factory(read_only=True) as uow:
        return uow.catalog.all()


def put_service(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    service: CatalogService,
    guard: UrlGuard,
) -> tuple[CatalogService, bool]:
    """Create or replace a catalog entry; returns it and whether it is new. A ``health_url``
    that leads inside (loopback, metadata, private networks) is refused unless allowed."""
    refused = guard.refusal(service.health_url) if service.health_url else None
    if refused:
        raise ValidationFailed(
            f"health_url is refused: {refused}; an admin may allow it", field="health_url"
        )
    now = clock.now()
    stored = replace(service, updated_at=now)
    with uow_factory() as uow:
        created = uow.catalog.upsert(stored)
        verb = "created" if created else "replaced"
        record(
            uow,
            actor,
            now,
            Change(
                "service.put",
                "service",
                service.name,
                f"catalog entry {verb}",
                {"tier": service.tier.value, "created": created},
            ),
        )
        uow.commit()
    return stored, created


def record_deployment(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, deployment: Deployment
) -> Deployment:
    if deployment.deployed_at > clock.now():
        raise ValidationFailed("deployed_at is in the future", field="deployed_at")
    with uow_factory() as uow:
        stored = uow.deployments.add(deployment)
        record(
            uow,
            actor,
            clock.now(),
            Change(
                "deployment.record",
                "deployment",
                str(stored.id),
                f"{stored.service} {stored.version} deployed",
                {"service": stored.service, "version": stored.version},
            ),
        )
        uow.commit()
    return stored


def recent_deployments(
    uow_factory: UnitOfWorkFactory, clock: Clock, hours: float, service: str | None
) -> list[Deployment]:
    since = clock.now() - timedelta(hours=hours)
    with uow_factory(read_only=True) as uow:
        return uow.deployments.recent(since, service)


def get_flag(uow_factory: UnitOfWorkFactory, key: str) -> FeatureFlag:
    with uow_factory(read_only=True) as uow:
        flag = uow.flags.get(key)
    if flag is None:
        raise NotFound(f"feature flag '{key}' does not exist")
    return flag


def list_flags(uow_factory: UnitOfWorkFactory) -> list[FeatureFlag]:
    with uow_factory(read_only=True) as uow:
        return uow.flags.all()


def flag_history(uow_factory: UnitOfWorkFactory, key: str) -> list[FlagChange]:
    with uow_factory(read_only=True) as uow:
        if uow.flags.get(key) is None:
            raise NotFound(f"feature flag '{key}' does not exist")
        return uow.flags.changes(key)


def set_flag(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    key: str,
    enabled: bool | None,
    *,
    reason: str | None = None,
    description: str | None = None,
    service: str | None = None,
    create: bool = False,
    incident_id: str | None = None,
) -> tuple[FeatureFlag, bool]:
    """Flip or define a flag; every flip keeps who, when and why, and lands on the timeline of
    ``incident_id`` or, without one, of the open incidents of the flag's service.
    Returns (flag, created)."""
    now = clock.now()
    with uow_factory() as uow:
        if incident_id is not None and require_act(uow, actor, incident_id) is None:
            raise NotFound(f"incident '{incident_id}' does not exist")
        current = uow.flags.get(key)
        if current is None and not create:
            raise NotFound(f"feature flag '{key}' does not exist; create it with PUT")
        if current is None and enabled is None:
            raise ValidationFailed("a new flag needs 'enabled'", field="enabled")
        new_enabled = current.enabled if enabled is None and current else bool(enabled)
        flag = FeatureFlag(
            key=key,
            enabled=new_enabled,
            updated_at=now,
            updated_by=actor.name,
            description=description if description is not None else _keep(current, "description"),
            service=service if service is not None else _keep(current, "service"),
        )
        uow.flags.upsert(flag)
        before = current.enabled if current else None
        if before != new_enabled:
            change = FlagChange(key, before, new_enabled, actor.name, reason, now)
            uow.flags.add_change(change)
            if before is not None:  # a flip, not the flag's creation
                _on_incident_timelines(uow, actor, flag, change, incident_id)
        state = "enabled" if new_enabled else "disabled"
        detail = {"enabled_before": before, "enabled": new_enabled, "reason": reason}
        record(uow, actor, now, Change("flag.set", "feature_flag", key, f"flag {state}", detail))
        uow.commit()
    return flag, current is None


def _on_incident_timelines(
    uow: UnitOfWork, actor: Actor, flag: FeatureFlag, change: FlagChange, incident_id: str | None
) -> None:
    if incident_id is not None:
        targets = [incident_id]
    elif flag.service:
        found, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, service=flag.service))
        targets = [incident.id for incident in found]
    else:
        return
    state = "on" if change.enabled_after else "off"
    why = f": {change.reason}" if change.reason else ""
    text = f"feature flag {flag.key} turned {state} by {change.actor}{why}"
    data = {"flag": flag.key, "enabled_before": change.enabled_before}
    data |= {"enabled": change.enabled_after, "reason": change.reason}
    for target in targets:
        note(uow, actor, change.changed_at, target, EventKind.FLAG_FLIPPED, text, data)


def _keep(flag: FeatureFlag | None, name: str) -> str | None:
    value: str | None = getattr(flag, name) if flag else None
    return value
