"""Action items: SEV4 tickets from triage and the follow-ups of published postmortems."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from so1.adapters.db import tables as t
from so1.domain.postmortem import ActionItem

_c = t.action_items.c


class SqlActionItemRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_ticket(self, alert_id: str, title: str, priority: str, at: datetime) -> int:
        new_id: int = self._conn.execute(
            insert(t.action_items)
            .values(alert_id=alert_id, title=title, priority=priority, status="open", created_at=at)
            .returning(_c.id)
        ).scalar_one()
        return new_id

    def add(
        self,
        incident_id: str,
        title: str,
        owner: str | None,
        due: date | None,
        priority: str,
        at: datetime,
    ) -> int:
        values = {
            "incident_id": incident_id,
            "title": title,
            "owner": owner,
            "due_date": due,
            "priority": priority,
            "status": "open",
            "created_at": at,
        }
        new_id: int = self._conn.execute(
            insert(t.action_items).values(values).returning(_c.id)
        ).scalar_one()
        return new_id

    def get(self, item_id: int) -> ActionItem | None:
        row = self._conn.execute(select(t.action_items).where(_c.id == item_id)).mappings().first()
        return ActionItem(**dict(row)) if row else None

    def search(
        self,
        owner: str | None = None,
        status: str | None = None,
        incident_id: str | None = None,
        due_before: date | None = None,
        limit: int = 500,
    ) -> list[ActionItem]:
        query = select(t.action_items)
        if owner:
            query = query.where(_c.owner == owner)
        if status:
            query = query.where(_c.status == status)
        if incident_id:
            query = query.where(_c.incident_id == incident_id)
        if due_before:
            query = query.where(_c.due_date < due_before)
        rows = self._conn.execute(query.order_by(_c.due_date, _c.id).limit(limit)).mappings()
        return [ActionItem(**dict(r)) for r in rows]

    def update(self, item: ActionItem) -> None:
        values = {
            "title": item.title,
            "owner": item.owner,
            "due_date": item.due_date,
            "priority": item.priority,
            "status": item.status,
        }
        self._conn.execute(update(t.action_items).where(_c.id == item.id).values(values))
