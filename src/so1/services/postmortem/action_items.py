"""Action items tracked to done: list and filter (owner, status, incident, overdue), change
them, export them (CSV, JSON) for a ticket tracker, and remind the war room of overdue ones
once a day."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, replace
from datetime import date, datetime

from so1.domain.comms import Destination, Outbound
from so1.domain.postmortem import ActionItem
from so1.domain.timeline import EventKind
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import may_access, require_act
from so1.services.declaration.outbox import queue_message
from so1.services.incidents.recording import Actor, Change, record
from so1.services.isolation import each

STATUSES = ("open", "done", "dropped")
FIELDS = ("id", "incident_id", "title", "owner", "due_date", "priority", "status", "created_at")


def list_items(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    owner: str | None = None,
    status: str | None = None,
    incident_id: str | None = None,
    overdue: bool = False,
) -> list[ActionItem]:
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"'status' is one of: {', '.join(STATUSES)}", field="status")
    today = clock.now().date()
    with uow_factory(read_only=True) as uow:
        found = uow.action_items.search(
            owner, "open" if overdue else status, incident_id, today if overdue else None
        )
        shown = _cleared_incidents(uow, actor, {i.incident_id for i in found})
    return [i for i in found if (not overdue or i.overdue(today)) and i.incident_id in shown]


def _cleared_incidents(uow: UnitOfWork, actor: Actor, ids: set[str | None]) -> set[str | None]:
    """Which of these incidents ``actor`` may see (None: an item of no incident)."""
    incidents = {i: uow.incidents.get(i) for i in ids if i is not None}
    return {None} | {i for i, found in incidents.items() if found and may_access(actor, found)}


def change_item(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    item_id: int,
    status: str | None = None,
    owner: str | None = None,
    due: date | None = None,
) -> ActionItem:
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"'status' is one of: {', '.join(STATUSES)}", field="status")
    with uow_factory() as uow:
        item = uow.action_items.get(item_id)
        if item is None:
            raise NotFound(f"action item {item_id} does not exist")
        require_act(uow, actor, item.incident_id)
        after = replace(
            item,
            status=status or item.status,
            owner=owner or item.owner,
            due_date=due or item.due_date,
        )
        uow.action_items.update(after)
        summary = f"action item {item_id} ({item.title[:80]}): {after.status}, owner {after.owner}"
        record(
            uow,
            actor,
            clock.now(),
            Change(
                "action_item.update",
                "action_item",
                str(item_id),
                summary,
                {"status": after.status},
                item.incident_id,
                EventKind.ACTION_ITEM_UPDATED if item.incident_id else None,
            ),
        )
        uow.commit()
    return after


def as_csv(items: list[ActionItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for item in items:
        values = asdict(item)
        writer.writerow(["" if values[f] is None else values[f] for f in FIELDS])
    return out.getvalue()


def remind_overdue(uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """One war-room reminder per overdue item per day (runbook_alarms keeps it to one); an
    item that fails is logged and skipped, the others are still reminded."""
    now = clock.now()
    today = now.date()
    with uow_factory(read_only=True) as uow:
        overdue = [i for i in uow.action_items.search(None, "open", None, today) if i.incident_id]
    return each(
        "action item reminder",
        overdue,
        lambda item: f"{item.incident_id} (action item {item.id})",
        lambda item: _remind(uow_factory, now, item),
    )


def _remind(uow_factory: UnitOfWorkFactory, now: datetime, item: ActionItem) -> int:
    assert item.incident_id is not None
    today = now.date()
    with uow_factory() as uow:
        if not uow.outbox.claim_alarm(
            item.incident_id, f"action:{item.id}", today.toordinal(), now
        ):
            return 0
        incident = uow.incidents.get(item.incident_id)
        owner = f"@{item.owner}" if item.owner else "no owner yet"
        text = (
            f"⏰ Overdue action item from the postmortem of {item.incident_id}: "
            f"{item.title} ({owner}, due {item.due_date}, {item.priority})"
        )
        queue_message(
            uow,
            Outbound(
                item.incident_id,
                Destination.WAR_ROOM,
                "internal",
                "reminder",
                text,
                now,
                target=item.owner,
                payload={"channel": incident.channel if incident else None},
            ),
        )
        uow.commit()
    return 1
