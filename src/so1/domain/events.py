"""Domain events: facts a use case tells the rest of the system once they are durable.

A service adds them to its unit of work (``uow.add_event(...)``); after a successful commit
the unit of work hands them to the one dispatcher, which wakes the background job that acts
on them (services/background.py). A unit of work that rolls back dispatches nothing. They are
not the incident's timeline (that is ``so1.domain.timeline``): they are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from so1.domain.comms import Destination


@dataclass(frozen=True, slots=True)
class AlertStored:
    """A new firing alert waits for triage."""

    alert_id: str


@dataclass(frozen=True, slots=True)
class MessageQueued:
    """A war-room message, status-page update or page waits in the outbox."""

    incident_id: str
    destination: Destination


DomainEvent = AlertStored | MessageQueued
