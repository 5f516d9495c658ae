"""Port for the postmortem record (kept apart from ports.py, which holds the core ports)."""

from __future__ import annotations

from typing import Protocol

from so1.domain.postmortem import Postmortem


class PostmortemRepository(Protocol):
    def get(self, incident_id: str) -> Postmortem | None: ...
    def put(self, postmortem: Postmortem) -> None:
        """Insert, or replace the incident's postmortem."""
        ...

    def without_postmortem(self, limit: int) -> list[str]:
        """Resolved or closed incidents that have none yet, oldest first."""
        ...
