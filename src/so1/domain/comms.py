"""Outbound communications (the outbox): war-room messages, status-page updates and pages,
written in the same transaction as the change they announce and delivered afterwards with
retries, so a vendor outage delays a message but never loses it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_ATTEMPTS = 12
# The war-room messages that are the incident's communication: SO1's own notices (a late
# runbook check, an update reminder, the review invitation, the archive) are not.
COMMUNICATION_KINDS = frozenset({"declared", "update", "note", "resolved"})
_BACKOFF_CAP = timedelta(minutes=10)


class Destination(enum.StrEnum):
    WAR_ROOM = "war_room"
    STATUS_PAGE = "status_page"
    PAGER = "pager"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for (another) attempt
    SENT = "sent"
    DEAD = "dead"  # refused for good (a 4xx) or out of attempts
    DRAFT = "draft"  # a status-page notice waiting for a person to publish it


@dataclass(frozen=True, slots=True)
class Outbound:
    incident_id: str
    destination: Destination
    audience: str  # internal | customer | person
    kind: str  # declared, update, resolved, all_hands, escalation, page, note ...
    body: str
    created_at: datetime
    target: str | None = None  # the person paged, the status-page component ...
    payload: dict[str, Any] = field(default_factory=dict)
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    id: int | None = None


def retry_at(attempts: int, now: datetime, retry_after: float | None = None) -> datetime:
    """Exponential back-off (2 s, 4 s, ... capped at 10 min), or the vendor's Retry-After."""
    if retry_after is not None:
        return now + timedelta(seconds=max(0.0, retry_after))
    return now + min(timedelta(seconds=2**attempts), _BACKOFF_CAP)
