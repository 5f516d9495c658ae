"""Deliver the outbox: claim due messages, hand each to its adapter outside any transaction,
then record what happened. A failure is retried with back-off (or the vendor's Retry-After);
a refusal gives up. The runbook's "Status page down → use other channels": when a status-page
update fails, the war room is told, once per update, with the text to send another way."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from so1.agents.commander.comms import render_resolved
from so1.domain.comms import MAX_ATTEMPTS, DeliveryStatus, Destination, Outbound, retry_at
from so1.domain.events import MessageQueued
from so1.domain.incidents import Incident
from so1.domain.timeline import EventKind
from so1.errors import IntegrationError, NotFound, RateLimited, Unavailable
from so1.ports import Clock, Messenger, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.declaration.status_page import public_service_name
from so1.services.incidents.recording import Actor, note

log = logging.getLogger("so1.outbox")

LEASE = timedelta(seconds=60)  # a claimed message is retried by others after this
BATCH = 50
SO1 = Actor(name="so1")  # deliveries are SO1's own doing


def deliver_due(
    uow_factory: UnitOfWorkFactory, clock: Clock, messengers: Mapping[Destination, Messenger]
) -> int:
    """One pass; returns how many messages were attempted."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:  # the usual answer, without a write transaction
        if not uow.outbox.any_due(now):
            return 0
    with uow_factory() as uow:
        claimed = uow.outbox.claim_due(now, now + LEASE, BATCH)
        uow.commit()
    for message in claimed:
        _deliver(uow_factory, clock, messengers, message)
    return len(claimed)


def _deliver(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    messengers: Mapping[Destination, Messenger],
    message: Outbound,
) -> None:
    message_id = message.id
    assert message_id is not None
    with uow_factory(read_only=True) as uow:
        incident = uow.incidents.get(message.incident_id)
        message = _with_known_facts(uow, message)
    if incident is None:  # deleted incidents cascade their messages; nothing to do
        return
    try:
        facts = messengers[message.destination].deliver(message, incident)
    except IntegrationError as exc:
        _failed(uow_factory, clock, message, exc)
        return
    except Exception as exc:  # an adapter bug: keep the message, retry later, say why
        log.exception("delivering message %s failed", message.id)
        _failed(uow_factory, clock, message, Unavailable(f"{type(exc).__name__}: {exc}"))
        return
    now = clock.now()
    with uow_factory() as uow:
        uow.outbox.mark_sent(message_id, now, {**message.payload, **facts})
        summary = f"{message.kind} delivered to {_where(message)}"
        data = {"message_id": message.id, "attempts": message.attempts}
        note(uow, SO1, now, message.incident_id, EventKind.COMMUNICATION_SENT, summary, data)
        uow.commit()


CARRIED = {Destination.WAR_ROOM: "channel_id", Destination.STATUS_PAGE: "statuspage_incident_id"}


def _with_known_facts(uow: UnitOfWork, message: Outbound) -> Outbound:
    """Hand the adapter what earlier deliveries learnt (the chat channel's id, the status
    page's incident id), so later messages go where the first one created."""
    key = CARRIED.get(message.destination)
    if key is None or key in message.payload:
        return message
    earlier = uow.outbox.for_incident(message.incident_id, message.destination)
    known = [m.payload[key] for m in earlier if m.payload.get(key)]
    return replace(message, payload={**message.payload, key: known[-1]}) if known else message


def _failed(
    uow_factory: UnitOfWorkFactory, clock: Clock, message: Outbound, error: IntegrationError
) -> None:
    assert message.id is not None
    now = clock.now()
    retryable = isinstance(error, RateLimited | Unavailable) and message.attempts < MAX_ATTEMPTS
    after = error.retry_after_seconds if isinstance(error, RateLimited) else None
    again = retry_at(message.attempts, now, after) if retryable else None
    text = f"{type(error).__name__}: {error.detail}"
    with uow_factory() as uow:
        uow.outbox.mark_failed(message.id, text, again)
        if message.destination is Destination.STATUS_PAGE and message.attempts == 1:
            queue_message(uow, _fallback_note(message, text, now))
        if again is None:
            summary = f"{message.kind} to {_where(message)} NOT delivered: {text}"
            data = {"message_id": message.id, "attempts": message.attempts, "error": text}
            kind = EventKind.COMMUNICATION_FAILED
            note(uow, SO1, now, message.incident_id, kind, summary, data)
        uow.commit()


def _fallback_note(message: Outbound, error: str, now: datetime) -> Outbound:
    body = (
        f"⚠️ The status page did not take this update ({error}); SO1 keeps retrying. "
        "Meanwhile send it to customers another way (email, social):\n\n" + message.body
    )
    return Outbound(
        message.incident_id,
        Destination.WAR_ROOM,
        "internal",
        "status_page_fallback",
        body,
        now,
        payload={"for_message": message.id},
    )


def _where(message: Outbound) -> str:
    if message.destination is Destination.PAGER:
        return f"@{message.target}"
    return message.destination.value.replace("_", " ")


def queue_message(uow: UnitOfWork, message: Outbound) -> Outbound:
    """Put ``message`` in the outbox, in the caller's transaction; the delivery job is woken
    once that commits. The one writer of the outbox."""
    stored = uow.outbox.add(message)
    uow.add_event(MessageQueued(message.incident_id, message.destination))
    return stored


def incident_messages(
    uow_factory: UnitOfWorkFactory,
    incident_id: str,
    destination: Destination | None = None,
    actor: Actor | None = None,
) -> list[Outbound]:
    with uow_factory(read_only=True) as uow:
        if actor is not None:
            require_read(uow, actor, incident_id)
        if uow.incidents.get(incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return uow.outbox.for_incident(incident_id, destination)


def post_to_war_room(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, text: str
) -> Outbound:
    """A person's message to the war room, delivered like every other."""
    now = clock.now()
    with uow_factory() as uow:
        incident = require_act(uow, actor, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        message = Outbound(
            incident_id,
            Destination.WAR_ROOM,
            "internal",
            "note",
            text,
            now,
            target=actor.name,
            payload={"channel": incident.channel, "author": actor.name},
        )
        stored = queue_message(uow, message)
        note(uow, actor, now, incident_id, EventKind.WAR_ROOM_MESSAGE, text[:500])
        uow.commit()
    return stored


def queue_pager_followups(uow: UnitOfWork, now: datetime, incident_id: str, action: str) -> int:
    """Acknowledge or resolve, at the pager, every alert this incident triggered (same
    dedup_key); in the caller's transaction. Returns how many were queued."""
    pages = [
        m
        for m in uow.outbox.for_incident(incident_id, Destination.PAGER)
        if m.payload.get("action", "trigger") == "trigger" and m.payload.get("dedup_key")
    ]
    keys = dict.fromkeys(str(m.payload["dedup_key"]) for m in pages)
    by_key = {str(m.payload["dedup_key"]): m for m in pages}
    for key in keys:
        page = by_key[key]
        payload = {"action": action, "dedup_key": key, "team": page.payload.get("team")}
        queue_message(
            uow,
            Outbound(
                incident_id,
                Destination.PAGER,
                "person",
                f"page_{action}",
                f"{action} the page of @{page.target}",
                now,
                target=page.target,
                payload=payload,
            ),
        )
    return len(keys)


def message_by_ref(uow_factory: UnitOfWorkFactory, ref: str) -> Outbound | None:
    """The delivered message a vendor knows by ``ref`` (a reaction names it so)."""
    with uow_factory(read_only=True) as uow:
        return uow.outbox.by_vendor_ref(ref)


def queue_resolution(uow: UnitOfWork, now: datetime, incident: Incident) -> None:
    """Resolved: the war-room notice always; the status page when customers were told of it
    (a resolved update under the same title); every page it raised resolved at the pager."""
    said = uow.outbox.for_incident(incident.id)
    if not any(m.destination is Destination.WAR_ROOM for m in said):
        queue_pager_followups(uow, now, incident.id, "resolve")
        return  # never declared (no war room): nothing to announce
    notices = [m for m in said if m.destination is Destination.STATUS_PAGE]
    public = next((m for m in notices if m.status is not DeliveryStatus.DRAFT), None)
    title = _public_title(uow, incident, public) if public else None
    held = any(m.payload.get("approval") == "draft" for m in notices)  # drafts stay drafts
    internal, customer = render_resolved(incident, title)
    queue_message(
        uow,
        Outbound(
            incident.id,
            Destination.WAR_ROOM,
            "internal",
            "resolved",
            internal,
            now,
            payload={"channel": incident.channel},
        ),
    )
    if customer is not None:
        queue_message(
            uow,
            Outbound(
                incident.id,
                Destination.STATUS_PAGE,
                "customer",
                "resolved",
                customer,
                now,
                payload={"title": title, "state": "resolved"} | _held(held),
                status=DeliveryStatus.DRAFT if held else DeliveryStatus.PENDING,
            ),
        )
    queue_pager_followups(uow, now, incident.id, "resolve")


def _public_title(uow: UnitOfWork, incident: Incident, public: Outbound) -> str:
    """The title customers saw, never the internal one."""
    return str(public.payload.get("title") or public_service_name(uow, incident.service))


def _held(draft: bool) -> dict[str, str]:
    return {"approval": "draft"} if draft else {}


def queue_archive(uow: UnitOfWork, now: datetime, incident_id: str, where: str | None) -> bool:
    """The war room's last message, which archives it (the retrospective is done); only for an
    incident that had a war room. In the caller's transaction."""
    said = uow.outbox.for_incident(incident_id, Destination.WAR_ROOM)
    incident = uow.incidents.get(incident_id)
    if not said or incident is None:
        return False
    published = f" at {where}" if where else ""
    body = (
        f"📁 The postmortem is published{published}. This war room is now archived; the"
        " incident's record stays in SO1."
    )
    payload = {"channel": incident.channel, "archive": True}
    queue_message(
        uow,
        Outbound(
            incident_id, Destination.WAR_ROOM, "internal", "archive", body, now, payload=payload
        ),
    )
    return True
