"""Paging through the PagerDuty Events API v2 (trigger / acknowledge / resolve).

Facts (shared/reference/integrations.md §1): the routing key travels in the body; a
`dedup_key` (at most 255 characters) ties ack and resolve to the trigger, so SO1 derives it
from the incident and the person paged and stores it with the message before the first
attempt; 202 must carry the `dedup_key` (else it counts as a server error); 400 is never
retried; 429, 5xx and network errors are retried with the same key (429 after Retry-After,
or the 30 s the rate-limit doc suggests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.errors import RateLimited, Rejected, Unavailable

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
RATE_LIMIT_WAIT = 30.0
SEVERITY = {
    Severity.SEV0: "critical",
    Severity.SEV1: "critical",
    Severity.SEV2: "error",
    Severity.SEV3: "warning",
    Severity.SEV4: "info",
}


class PagerDutyPager:
    def __init__(
        self, routing_keys: Mapping[str, str], http: httpx.Client, url: str = EVENTS_URL
    ) -> None:
        """``routing_keys``: team or service name → integration key; ``default`` for the rest.
        ``http``: the client the composition root built (its timeout applies)."""
        self._keys = dict(routing_keys)
        self._http = http
        self._url = url

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        body = self.event(message, incident)
        try:
            response = self._http.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise Unavailable(f"PagerDuty unreachable: {type(exc).__name__}") from exc
        return _outcome(response, body["dedup_key"])

    def event(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        action = str(message.payload.get("action", "trigger"))
        dedup_key = message.payload.get("dedup_key")
        if not dedup_key:
            raise Rejected("page has no dedup_key; it must be stored before sending")
        body: dict[str, Any] = {
            "routing_key": self._routing_key(message, incident),
            "event_action": action,
            "dedup_key": str(dedup_key)[:255],
        }
        if action == "trigger":
            body["payload"] = {
                "summary": f"{incident.severity}: {incident.title} (@{message.target})"[:1024],
                "source": incident.service or "so1",
                "severity": SEVERITY[incident.severity],
                "component": incident.service,
                "group": message.payload.get("team"),
                "class": "incident",
                "custom_details": {
                    "incident_id": incident.id,
                    "page_for": message.target,
                    "reason": message.body,
                    "war_room": incident.channel,
                },
            }
        return body

    def _routing_key(self, message: Outbound, incident: Incident) -> str:
        for name in (message.payload.get("team"), incident.service, "default"):
            if name and name in self._keys:
                return self._keys[name]
        raise Rejected(
            f"no PagerDuty routing key for team {message.payload.get('team')!r} or service "
            f"{incident.service!r}; set SO1_PAGERDUTY_ROUTING_KEYS (with a 'default')"
        )


def _outcome(response: httpx.Response, dedup_key: str) -> dict[str, Any]:
    if response.status_code == 429:
        raise RateLimited("PagerDuty: 429 rate limited", _retry_after(response))
    if response.status_code >= 500:
        raise Unavailable(f"PagerDuty: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise Rejected(
            f"PagerDuty refused the event: HTTP {response.status_code} {response.text[:300]}"
        )
    try:
        answered = response.json().get("dedup_key")
    except ValueError:
        answered = None
    if not answered:  # pdpyras treats this as a server error too
        raise Unavailable("PagerDuty answered without a dedup_key")
    return {"dedup_key": dedup_key, "pagerduty_status": response.status_code}


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", RATE_LIMIT_WAIT))
    except ValueError:
        return RATE_LIMIT_WAIT
