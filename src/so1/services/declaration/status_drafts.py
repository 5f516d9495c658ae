"""Status-page notices that wait for a person (``SO1_STATUS_PAGE_APPROVAL=draft``): the
incident-commander plans the SEV0-1 notice as a draft (an outbox row with the status
``draft``, never delivered); the commander reads it, edits it and publishes it, which queues
it for delivery like any other message. Until then the runbook's status-page check is pending.

The public text speaks of the service by its catalog ``public_name`` and of the problem by the
incident's customer-facing summary: a text naming the incident's id or its internal title is
refused."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.domain.events import MessageQueued
from so1.domain.incidents import Incident
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.incidents.recording import Actor, Change, record

MAX_TEXT = 5_000
MAX_TITLE = 200
INCIDENT_ID_IN_TEXT = re.compile(r"\bINC-\d{8}-\d+\b", re.IGNORECASE)
MIN_TITLE_CHECKED = 8  # shorter internal titles ("Outage") are ordinary words


def status_page_notices(
    uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str
) -> list[Outbound]:
    """Every status-page notice of the incident (drafts, queued, sent), oldest first."""
    with uow_factory(read_only=True) as uow:
        _incident(uow, actor, incident_id, act=False)
        return uow.outbox.for_incident(incident_id, Destination.STATUS_PAGE)


def edit_draft(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    draft_id: int | None,
    text: str | None,
    title: str | None = None,
) -> Outbound:
    """Change a draft's text or title; it stays a draft."""
    return _change(uow_factory, clock, actor, incident_id, draft_id, text, title, publish=False)


def publish_draft(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    draft_id: int | None = None,
    text: str | None = None,
    title: str | None = None,
) -> Outbound:
    """Publish a draft (``draft_id``, else the oldest), with the final text if given: it is
    queued for delivery and the record says who published it."""
    return _change(uow_factory, clock, actor, incident_id, draft_id, text, title, publish=True)


def _change(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    draft_id: int | None,
    text: str | None,
    title: str | None,
    publish: bool,
) -> Outbound:
    now = clock.now()
    with uow_factory() as uow:
        incident = _incident(uow, actor, incident_id, act=True)
        draft = _draft(uow, incident_id, draft_id)
        changed = _edited(incident, draft, text, title, actor, now, publish)
        assert draft.id is not None
        if not uow.outbox.update_draft(draft.id, changed.body, changed.payload, publish):
            raise Conflict(f"status-page draft {draft.id} was published by someone else")
        if publish:
            uow.add_event(MessageQueued(incident_id, Destination.STATUS_PAGE))
        record(uow, actor, now, _change_record(incident_id, changed, publish))
        uow.commit()
    return changed


def _incident(uow: UnitOfWork, actor: Actor, incident_id: str, act: bool) -> Incident:
    incident = (require_act if act else require_read)(uow, actor, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


def _draft(uow: UnitOfWork, incident_id: str, draft_id: int | None) -> Outbound:
    notices = uow.outbox.for_incident(incident_id, Destination.STATUS_PAGE)
    drafts = [m for m in notices if m.status is DeliveryStatus.DRAFT]
    if draft_id is None:
        if not drafts:
            raise NotFound(f"incident {incident_id} has no status-page draft waiting")
        return drafts[0]
    found = next((m for m in notices if m.id == draft_id), None)
    if found is None:
        raise NotFound(f"incident {incident_id} has no status-page notice {draft_id}")
    if found.status is not DeliveryStatus.DRAFT:
        raise Conflict(f"status-page notice {draft_id} is already published ({found.status})")
    return found


def _edited(
    incident: Incident,
    draft: Outbound,
    text: str | None,
    title: str | None,
    actor: Actor,
    now: datetime,
    publish: bool,
) -> Outbound:
    """The draft with its new words, all of them checked (a customer summary that named the
    incident's id would otherwise reach the page unseen)."""
    body = _checked(incident, draft.body if text is None else text, "text", MAX_TEXT)
    payload = dict(draft.payload)
    title = title if title is not None else payload.get("title")
    if title is not None:
        payload["title"] = _checked(incident, str(title), "title", MAX_TITLE)
    if publish:
        payload |= {"published_by": actor.name, "published_at": now.isoformat()}
    else:
        payload |= {"edited_by": actor.name, "edited_at": now.isoformat()}
    status = DeliveryStatus.PENDING if publish else DeliveryStatus.DRAFT
    return replace(draft, body=body, payload=payload, status=status)


def _checked(incident: Incident, value: str, field: str, limit: int) -> str:
    """Public words only: not empty, not too long, no incident id, not the internal title."""
    text = value.strip()
    if not text:
        raise ValidationFailed(f"the status-page {field} is empty", field=field)
    if len(text) > limit:
        raise ValidationFailed(f"the status-page {field} is over {limit} characters", field)
    if INCIDENT_ID_IN_TEXT.search(text):
        raise ValidationFailed(
            f"the status-page {field} names an incident id; customers see the public text only",
            field=field,
        )
    internal = incident.title.strip().lower()
    if len(internal) >= MIN_TITLE_CHECKED and internal in text.lower():
        raise ValidationFailed(
            f"the status-page {field} repeats the internal title '{incident.title}'; describe "
            "it in customers' words (the incident's customer_summary)",
            field=field,
        )
    return text


def _change_record(incident_id: str, notice: Outbound, publish: bool) -> Change:
    verb = "published" if publish else "edited"
    kind = EventKind.STATUS_PAGE_PUBLISHED if publish else EventKind.STATUS_PAGE_DRAFT_EDITED
    return Change(
        f"status_page.{'publish' if publish else 'edit'}",
        "communication",
        str(notice.id),
        f"status-page {notice.kind} notice {verb}",
        {"message_id": notice.id, "title": notice.payload.get("title"), "text": notice.body},
        incident_id=incident_id,
        timeline_kind=kind,
    )
