"""Who holds which role in an incident, and since when: roles are time-ranged, never edited."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    COMMANDER = "commander"
    BACKUP = "backup"
    SCRIBE = "scribe"
    COMMS_LEAD = "comms_lead"
    RESPONDER = "responder"


# One person at a time holds these; assigning someone else hands the role over.
SINGLE_HOLDER_ROLES = frozenset({Role.COMMANDER, Role.BACKUP, Role.SCRIBE, Role.COMMS_LEAD})


@dataclass(frozen=True, slots=True)
class Participation:
    incident_id: str
    handle: str
    role: Role
    assumed_at: datetime
    renounced_at: datetime | None = None

    @property
    def is_current(self) -> bool:
        return self.renounced_at is None
