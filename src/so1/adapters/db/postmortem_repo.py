"""The postmortems table: one per incident, the analyst's draft (JSON) and its markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from so1.adapters.db import tables as t
from so1.adapters.db.columns import Json, UTCDateTime, metadata
from so1.domain.postmortem import Postmortem, PostmortemStatus

postmortems = Table(
    "postmortems",
    metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("method", String(20), nullable=False),
    Column("draft", Json, nullable=False),
    Column("markdown", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("published_at", UTCDateTime()),
    Column("meta", Json, nullable=False),
)
_c = postmortems.c


class SqlPostmortemRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, incident_id: str) -> Postmortem | None:
        row = self._conn.execute(select(postmortems).where(_c.incident_id == incident_id))
        found = row.mappings().first()
        if found is None:
            return None
        return Postmortem(**{**dict(found), "status": PostmortemStatus(found["status"])})

    def put(self, postmortem: Postmortem) -> None:
        values: dict[str, Any] = {c.name: getattr(postmortem, c.name) for c in postmortems.columns}
        values["status"] = postmortem.status.value
        changed = self._conn.execute(
            update(postmortems).where(_c.incident_id == postmortem.incident_id).values(values)
        ).rowcount
        if changed == 0:
            self._conn.execute(insert(postmortems).values(values))

    def root_causes(self, incident_ids: list[str]) -> dict[str, str]:
        if not incident_ids:
            return {}
        rows = self._conn.execute(
            select(_c.incident_id, _c.draft).where(_c.incident_id.in_(incident_ids))
        )
        found = {r.incident_id: (r.draft or {}).get("root_cause") or {} for r in rows}
        return {k: str(v["cause"]) for k, v in found.items() if v.get("cause")}

    def without_postmortem(self, limit: int, failed_since: datetime | None = None) -> list[str]:
        i, r = t.incidents.c, t.agent_runs.c
        query = (
            select(i.id)
            .where(i.status.in_(("resolved", "closed")))
            .where(~select(_c.incident_id).where(_c.incident_id == i.id).exists())
            .order_by(i.resolved_at)
            .limit(limit)
        )
        if failed_since is not None:
            failed = select(r.id).where(
                r.incident_id == i.id,
                r.agent == "postmortem-analyst",
                r.status == "failed",
                r.started_at >= failed_since,
            )
            query = query.where(~failed.exists())
        return [str(r) for r in self._conn.execute(query).scalars()]
