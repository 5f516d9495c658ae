"""Repositories for the service catalog, deployments and feature flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from so1.adapters.db import tables as t
from so1.domain.catalog import CatalogService, Tier
from so1.domain.changes import Deployment, FeatureFlag, FlagChange


def _service_from_row(row: RowMapping) -> CatalogService:
    values: dict[str, Any] = dict(row)
    values["tier"] = Tier(values["tier"])
    return CatalogService(**values)


class SqlCatalogRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, name: str) -> CatalogService | None:
        row = self._conn.execute(select(t.services).where(t.services.c.name == name)).mappings()
        first = row.first()
        return _service_from_row(first) if first else None

    def upsert(self, service: CatalogService) -> bool:
        values = {c.name: getattr(service, c.name) for c in t.services.columns}
        values["tier"] = service.tier.value
        changed = self._conn.execute(
            update(t.services).where(t.services.c.name == service.name).values(values)
        ).rowcount
        if changed == 0:
            self._conn.execute(insert(t.services).values(values))
        return changed == 0

    def all(self) -> list[CatalogService]:
        rows = self._conn.execute(select(t.services).order_by(t.services.c.name)).mappings()
        return [_service_from_row(r) for r in rows]


_DEPLOYMENT_COLUMNS = [c.name for c in t.deployments.columns if c.name != "id"]


class SqlDeploymentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, deployment: Deployment) -> Deployment:
        values = {name: getattr(deployment, name) for name in _DEPLOYMENT_COLUMNS}
        new_id = self._conn.execute(
            insert(t.deployments).values(values).returning(t.deployments.c.id)
        ).scalar_one()
        previous = self._previous_version(deployment.service, deployment.deployed_at, new_id)
        return Deployment(**{**values, "id": new_id, "previous_version": previous})

    def recent(self, since: datetime, service: str | None) -> list[Deployment]:
        """One query: each row's previous version is a correlated subquery."""
        d, p = t.deployments, t.deployments.alias("p")
        earlier = (p.c.deployed_at < d.c.deployed_at) | (
            (p.c.deployed_at == d.c.deployed_at) & (p.c.id < d.c.id)
        )
        previous = (
            select(p.c.version)
            .where(p.c.service == d.c.service, p.c.status == "succeeded", earlier)
            .order_by(p.c.deployed_at.desc(), p.c.id.desc())
            .limit(1)
            .scalar_subquery()
            .label("previous_version")
        )
        query = select(d, previous).where(d.c.deployed_at >= since)
        if service:
            query = query.where(d.c.service == service)
        rows = self._conn.execute(query.order_by(d.c.deployed_at.desc(), d.c.id.desc())).mappings()
        return [Deployment(**dict(r)) for r in rows]

    def _previous_version(self, service: str, deployed_at: datetime, dep_id: int) -> str | None:
        """Version of the last successful deployment of ``service`` before this one."""
        d = t.deployments
        earlier = (d.c.deployed_at < deployed_at) | (
            (d.c.deployed_at == deployed_at) & (d.c.id < dep_id)
        )
        return self._conn.execute(
            select(d.c.version)
            .where(d.c.service == service, d.c.status == "succeeded", earlier)
            .order_by(d.c.deployed_at.desc(), d.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()


class SqlFlagRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> FeatureFlag | None:
        row = (
            self._conn.execute(select(t.feature_flags).where(t.feature_flags.c.key == key))
            .mappings()
            .first()
        )
        return FeatureFlag(**dict(row)) if row else None

    def upsert(self, flag: FeatureFlag) -> None:
        values = {c.name: getattr(flag, c.name) for c in t.feature_flags.columns}
        changed = self._conn.execute(
            update(t.feature_flags).where(t.feature_flags.c.key == flag.key).values(values)
        ).rowcount
        if changed == 0:
            self._conn.execute(insert(t.feature_flags).values(values))

    def all(self) -> list[FeatureFlag]:
        rows = self._conn.execute(select(t.feature_flags).order_by(t.feature_flags.c.key))
        return [FeatureFlag(**dict(r)) for r in rows.mappings()]

    def add_change(self, change: FlagChange) -> None:
        values = {
            c.name: getattr(change, c.name)
            for c in t.feature_flag_changes.columns
            if c.name != "id"
        }
        self._conn.execute(insert(t.feature_flag_changes).values(values))

    def changes_since(self, since: datetime) -> list[tuple[FlagChange, str | None]]:
        c, f = t.feature_flag_changes, t.feature_flags
        rows = self._conn.execute(
            select(c, f.c.service)
            .join(f, f.c.key == c.c.key)
            .where(c.c.changed_at >= since)
            .order_by(c.c.changed_at, c.c.id)
        ).mappings()
        fields = list(FlagChange.__dataclass_fields__)
        return [(FlagChange(**{n: r[n] for n in fields}), r["service"]) for r in rows]

    def changes(self, key: str) -> list[FlagChange]:
        c = t.feature_flag_changes
        rows = self._conn.execute(
            select(c).where(c.c.key == key).order_by(c.c.changed_at, c.c.id)
        ).mappings()
        return [FlagChange(**{k: v for k, v in r.items() if k != "id"}) for r in rows]
