"""The built-in war room: SO1 is the chat system. A delivered message is one the war room
shows (GET /v1/incidents/{id}/messages, the CLI, the web page); there is no one else to call."""

from __future__ import annotations

from typing import Any

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident


class BuiltinChat:
    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        return {"channel": incident.channel or message.payload.get("channel")}
