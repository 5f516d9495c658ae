"""Built-in paging: the notification log is the outbox itself; with SO1_PAGING_WEBHOOK_URL
each page is also POSTed there as JSON (for a phone bridge, an SMS gateway, a chat bot).

The webhook gets ``{"event", "incident_id", "severity", "title", "handle", "reason",
"message_id"}`` (event: page, acknowledge or resolve) with ``Idempotency-Key:
so1-page-<message id>``; 429 and 5xx are retried (honouring Retry-After), any other 4xx is
given up."""

from __future__ import annotations

from typing import Any

import httpx

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident
from so1.errors import RateLimited, Rejected, Unavailable


class BuiltinPager:
    def __init__(self, webhook_url: str | None, http: httpx.Client) -> None:
        """``http``: the client the composition root built (its timeout applies)."""
        self._url = webhook_url
        self._http = http

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        if not self._url:
            return {"logged": True}
        action = str(message.payload.get("action", "trigger"))
        body = {
            "event": "page" if action == "trigger" else action,
            "incident_id": incident.id,
            "severity": incident.severity.value,
            "title": incident.title,
            "handle": message.target,
            "reason": message.body,
            "message_id": message.id,
        }
        headers = {"Idempotency-Key": f"so1-page-{message.id}"}
        try:
            response = self._http.post(self._url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"paging webhook unreachable: {type(exc).__name__}") from exc
        return _outcome(response)


def _outcome(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 429:
        raise RateLimited("paging webhook: 429", _retry_after(response))
    if response.status_code >= 500:
        raise Unavailable(f"paging webhook: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise Rejected(f"paging webhook refused the page: HTTP {response.status_code}")
    return {"logged": True, "webhook_status": response.status_code}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
