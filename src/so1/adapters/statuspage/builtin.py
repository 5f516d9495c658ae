"""The built-in status page: delivered updates are what the public /status page shows."""

from __future__ import annotations

from typing import Any

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident


class BuiltinStatusPage:
    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        return {"state": message.payload.get("state", "investigating"), "incident": incident.id}
