"""Ports for Phase 5: the postmortem record and the action items."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from so1.domain.postmortem import ActionItem, Postmortem


class PostmortemRepository(Protocol):
    def get(self, incident_id: str) -> Postmortem | None: ...
    def put(self, postmortem: Postmortem) -> None:
        """Insert, or replace the incident's postmortem."""
        ...

    def root_causes(self, incident_ids: list[str]) -> dict[str, str]:
        """Incident id → the published or drafted root cause, where there is one."""
        ...

    def without_postmortem(self, limit: int, failed_since: datetime | None = None) -> list[str]:
        """Resolved or closed incidents that have none yet, oldest first; with
        ``failed_since``, not those whose drafting failed since then."""
        ...


class ActionItemRepository(Protocol):
    def add_ticket(self, alert_id: str, title: str, priority: str, at: datetime) -> int: ...
    def add(
        self,
        incident_id: str,
        title: str,
        owner: str | None,
        due: date | None,
        priority: str,
        at: datetime,
    ) -> int: ...
    def get(self, item_id: int) -> ActionItem | None: ...
    def search(
        self,
        owner: str | None = None,
        status: str | None = None,
        incident_id: str | None = None,
        due_before: date | None = None,
        limit: int = 500,
    ) -> list[ActionItem]: ...
    def update(self, item: ActionItem) -> None: ...
