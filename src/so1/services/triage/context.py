"""What the triage-responder is shown: the alert, and from the database the catalog around
its service, recent deployments and flag flips, and related alerts (DESIGN §3 inputs)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from so1.domain.alerts import Alert
from so1.domain.intake import connected_services
from so1.ports import UnitOfWork
from so1.services.incidents.similar import similar_incidents

DEPLOY_LOOKBACK = timedelta(hours=4)
MAX_RELATED = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "service": alert.service,
        "metric": alert.metric,
        "current_value": alert.current_value,
        "threshold": alert.threshold,
        "summary": alert.summary,
        "severity_hint": alert.severity_hint.value if alert.severity_hint else None,
        "status": alert.status.value,
        "is_test": alert.is_test,
        "labels": alert.labels,
        "details": alert.details,
    }


def _related(alert: Alert) -> dict[str, Any]:
    data = alert_data(alert)
    data.pop("details")
    return {
        **data,
        "id": alert.id,
        "source": alert.source.value,
        "first_seen_at": _iso(alert.first_seen_at),
        "dedup_count": alert.dedup_count,
    }


def triage_inputs(
    uow: UnitOfWork, alert: Alert, now: datetime, window: timedelta
) -> dict[str, Any]:
    """The agent's inputs for ``alert``; only reads."""
    catalog = uow.catalog.all()
    graph = {s.name: s.dependencies for s in catalog}
    services = connected_services(alert.service, graph) if alert.service else set()

    def in_scope(name: str) -> bool:
        return not services or name in services

    deployments = [
        d for d in uow.deployments.recent(now - DEPLOY_LOOKBACK, None) if in_scope(d.service)
    ]
    flips = [
        (c, svc)
        for c, svc in uow.flags.changes_since(now - DEPLOY_LOOKBACK)
        if svc is None or in_scope(svc)
    ]
    related = [a for a in uow.alerts.recent(sorted(services), now - window) if a.id != alert.id]
    context = {
        "now": now.isoformat(),
        "services": [
            {
                "name": s.name,
                "tier": s.tier.value,
                "owner_team": s.owner_team,
                "users": s.users,
                "dependencies": s.dependencies,
                "baselines": s.baselines,
            }
            for s in catalog
            if s.name in services
        ],
        "deployments": [
            {
                "service": d.service,
                "version": d.version,
                "previous_version": d.previous_version,
                "deployed_at": _iso(d.deployed_at),
                "deployed_by": d.deployed_by,
                "commit_sha": d.commit_sha,
                "status": d.status,
                "config": d.config,
            }
            for d in deployments
        ],
        "flag_changes": [
            {
                "key": c.key,
                "service": svc,
                "enabled_before": c.enabled_before,
                "enabled_after": c.enabled_after,
                "actor": c.actor,
                "changed_at": _iso(c.changed_at),
            }
            for c, svc in flips
        ],
        "related_alerts": [_related(a) for a in related[:MAX_RELATED]],
        "incident_id": alert.incident_id,
        "similar_incidents": similar_incidents(
            uow, f"{alert.summary} {alert.service or ''} {alert.metric or ''}", alert.incident_id
        ),
    }
    origin = alert.labels.get("origin", alert.source.value)
    return {
        "alert_id": alert.id,
        "alert_source": origin,
        "alert_data": alert_data(alert),
        "context": context,
    }
