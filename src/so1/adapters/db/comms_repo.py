"""The outbox: communications waiting for delivery, delivered, or given up on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from so1.adapters.db import oncall_tables as ot, tables as t
from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.ports import Backlog

c = t.communications


def _from_row(row: RowMapping) -> Outbound:
    return Outbound(
        incident_id=row["incident_id"],
        destination=Destination(row["channel"]),
        audience=row["audience"],
        kind=row["kind"],
        body=row["body"],
        created_at=row["created_at"],
        target=row["target"],
        payload=row["payload"] or {},
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
        next_attempt_at=row["next_attempt_at"],
        id=row["id"],
    )


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, message: Outbound) -> Outbound:
        values: dict[str, Any] = {
            "incident_id": message.incident_id,
            "channel": message.destination.value,
            "audience": message.audience,
            "kind": message.kind,
            "body": message.body,
            "target": message.target,
            "payload": message.payload,
            "status": message.status.value,
            "attempts": message.attempts,
            "created_at": message.created_at,
            "sent_at": message.sent_at,
            "next_attempt_at": message.next_attempt_at,
        }
        new_id = self._conn.execute(insert(c).values(values).returning(c.c.id)).scalar_one()
        return _with_id(message, new_id)

    def any_due(self, now: datetime) -> bool:
        found = self._conn.execute(select(c.c.id).where(*self._due(now)).limit(1)).first()
        return found is not None

    def due_backlog(self, now: datetime) -> Backlog:
        query = select(func.count(), func.min(c.c.created_at)).where(*self._due(now))
        row = self._conn.execute(query).one()
        return Backlog(int(row[0]), row[1])

    @staticmethod
    def _due(now: datetime) -> list[Any]:
        return [
            c.c.status == DeliveryStatus.PENDING.value,
            or_(c.c.next_attempt_at.is_(None), c.c.next_attempt_at <= now),
        ]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Outbound]:
        """Pending messages whose time has come, leased to this worker until ``lease_until``
        (another worker takes them over if it dies), oldest first."""
        query = select(c.c.id).where(*self._due(now)).order_by(c.c.created_at, c.c.id).limit(limit)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(self._conn.execute(query).scalars())
        if not ids:
            return []
        rows = self._conn.execute(
            update(c)
            .where(c.c.id.in_(ids))
            .values(next_attempt_at=lease_until, attempts=c.c.attempts + 1)
            .returning(*c.c)
        ).mappings()
        return sorted((_from_row(r) for r in rows), key=lambda m: (m.created_at, m.id or 0))

    def mark_sent(self, message_id: int, at: datetime, payload: dict[str, Any]) -> None:
        """``payload["ref"]``, when the adapter gave one, becomes the searchable vendor_ref."""
        ref = payload.get("ref")
        self._conn.execute(
            update(c)
            .where(c.c.id == message_id)
            .values(
                status=DeliveryStatus.SENT.value,
                sent_at=at,
                last_error=None,
                payload=payload,
                vendor_ref=str(ref)[:200] if ref else None,
            )
        )

    def update_draft(
        self, message_id: int, body: str, payload: dict[str, Any], publish: bool
    ) -> bool:
        status = DeliveryStatus.PENDING if publish else DeliveryStatus.DRAFT
        result = self._conn.execute(
            update(c)
            .where(c.c.id == message_id, c.c.status == DeliveryStatus.DRAFT.value)
            .values(body=body, payload=payload, status=status.value, next_attempt_at=None)
        )
        return result.rowcount == 1

    def by_vendor_ref(self, ref: str) -> Outbound | None:
        row = self._conn.execute(select(c).where(c.c.vendor_ref == ref).limit(1)).mappings().first()
        return _from_row(row) if row else None

    def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None:
        """Try again at ``retry_at``; None gives up (status dead)."""
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.DEAD
        self._conn.execute(
            update(c)
            .where(c.c.id == message_id)
            .values(status=status.value, last_error=error[:2000], next_attempt_at=retry_at)
        )

    def for_incident(
        self, incident_id: str, destination: Destination | None = None
    ) -> list[Outbound]:
        conditions = [c.c.incident_id == incident_id]
        if destination is not None:
            conditions.append(c.c.channel == destination.value)
        rows = self._conn.execute(
            select(c).where(and_(*conditions)).order_by(c.c.created_at, c.c.id)
        ).mappings()
        return [_from_row(r) for r in rows]

    def claim_alarm(self, incident_id: str, check_id: str, occurrence: int, at: datetime) -> bool:
        """True for the one caller that records this alarm first (the primary key decides)."""
        values = {
            "incident_id": incident_id,
            "check_id": check_id,
            "occurrence": occurrence,
            "fired_at": at,
        }
        dialect_insert = (
            postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        )
        table = ot.runbook_alarms
        # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING here.
        statement = (
            dialect_insert(table)
            .values(values)
            .on_conflict_do_nothing()
            .returning(table.c.check_id)
        )
        return self._conn.execute(statement).first() is not None

    def sent_to(self, destination: Destination, since: datetime) -> list[Outbound]:
        rows = self._conn.execute(
            select(c)
            .where(
                c.c.channel == destination.value,
                c.c.status == DeliveryStatus.SENT.value,
                c.c.sent_at >= since,
            )
            .order_by(c.c.sent_at, c.c.id)
        ).mappings()
        return [_from_row(r) for r in rows]


def _with_id(message: Outbound, new_id: int) -> Outbound:
    return replace(message, id=new_id)
