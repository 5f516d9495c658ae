"""Communications (Phase 2): the outbox and the adapters that deliver its messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.ports.runtime import Backlog


class OutboxRepository(Protocol):
    def add(self, message: Outbound) -> Outbound: ...
    def any_due(self, now: datetime) -> bool: ...
    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Outbound]: ...
    def mark_sent(self, message_id: int, at: datetime, payload: dict[str, Any]) -> None: ...
    def by_vendor_ref(self, ref: str) -> Outbound | None:
        """The message the vendor knows as ``ref`` (e.g. ``slack:C123:1705329900.000100``)."""
        ...

    def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None: ...
    def for_incident(
        self, incident_id: str, destination: Destination | None = None
    ) -> list[Outbound]: ...
    def sent_to(self, destination: Destination, since: datetime) -> list[Outbound]: ...
    def update_draft(
        self, message_id: int, body: str, payload: dict[str, Any], publish: bool
    ) -> bool:
        """Change a draft's text (and publish it: pending delivery); False when the message
        is no longer a draft (someone published it first)."""
        ...

    def due_backlog(self, now: datetime) -> Backlog:
        """Messages due for delivery now, and when the oldest of them was queued."""
        ...

    def claim_alarm(self, incident_id: str, check_id: str, occurrence: int, at: datetime) -> bool:
        """Record that a late check was escalated; False if someone already did."""
        ...


class Messenger(Protocol):
    """Delivers one outbound message (war room, status page or pager adapter).

    Returns vendor facts to keep (message ts, their incident id ...), merged into the
    message's payload. Raises RateLimited / Unavailable (retried later) or Rejected / AuthFailed
    (given up: a person must fix the set-up)."""

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]: ...


class ChatDirectory(Protocol):
    """Who a chat user is (Slack: users.info, users.lookupByEmail; scope users:read.email).
    Both answer None when the chat does not know, or cannot say (no scope, unreachable).
    ``tell`` says something to one user in a channel, seen only by them (Slack:
    chat.postEphemeral); False when it could not."""

    def email_of(self, user_id: str) -> str | None: ...
    def user_by_email(self, email: str) -> str | None: ...
    def tell(self, channel: str, user_id: str, text: str) -> bool: ...
