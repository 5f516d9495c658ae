"""Customer updates on an Atlassian Statuspage (REST API v1).

Facts (shared/reference/integrations.md §6): `Authorization: OAuth <key>`; create with
`POST /pages/{page}/incidents`, update with `PATCH .../incidents/{id}`; statuses
investigating / identified / monitoring / resolved; component statuses operational …
major_outage; 1 request per second per token, 420 and 429 both mean "slow down"; no
idempotency key. So the first update creates the Statuspage incident, tagged with SO1's id in
its metadata; later updates PATCH it (the id comes back with them from the outbox); and a
create that is retried after a lost answer first looks for that tag among the unresolved
incidents, so customers see exactly one incident.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.errors import AuthFailed, RateLimited, Rejected, Unavailable

API = "https://api.statuspage.io/v1/"
IMPACT = {Severity.SEV0: "critical", Severity.SEV1: "major"}
COMPONENT_STATE = {Severity.SEV0: "major_outage", Severity.SEV1: "partial_outage"}
FACT = "statuspage_incident_id"


class AtlassianStatusPage:
    def __init__(
        self,
        page_id: str,
        api_key: str,
        components: Mapping[str, str],
        http: httpx.Client,
        base_url: str = API,
        min_interval: float = 1.0,
    ) -> None:
        """``components``: service name → Statuspage component id. ``http``: the client the
        composition root built (its timeout applies)."""
        self._page, self._components = page_id, dict(components)
        self._http = http
        self._base = base_url.rstrip("/") + "/"
        self._auth = {"Authorization": f"OAuth {api_key}"}
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._last = 0.0

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        document = {"incident": self._incident(message, incident)}
        existing = message.payload.get(FACT)
        if existing is None and message.attempts > 1:  # an earlier create may have landed
            existing = self._find(incident.id)
        if existing is None:
            created = self._call("POST", f"pages/{self._page}/incidents", document)
            return {FACT: created["id"]}
        self._call("PATCH", f"pages/{self._page}/incidents/{existing}", document)
        return {FACT: existing}

    def _incident(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        state = str(message.payload.get("state", "investigating"))
        lines = message.body.split("\n", 1)
        body = lines[1].strip() if len(lines) > 1 and lines[0].startswith("**") else message.body
        fields: dict[str, Any] = {
            "name": str(message.payload.get("title") or incident.title)[:255],
            "status": state,
            "body": body,
            "impact_override": IMPACT.get(incident.severity, "minor"),
            "deliver_notifications": True,
            "metadata": {"so1": {"incident_id": incident.id}},
        }
        component = self._components.get(incident.service or "")
        if component:
            condition = (
                "operational"
                if state == "resolved"
                else COMPONENT_STATE.get(incident.severity, "degraded_performance")
            )
            fields |= {"component_ids": [component], "components": {component: condition}}
        return fields

    def _find(self, incident_id: str) -> str | None:
        for found in self._call("GET", f"pages/{self._page}/incidents/unresolved"):
            tag = ((found.get("metadata") or {}).get("so1") or {}).get("incident_id")
            if tag == incident_id:
                return str(found["id"])
        return None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._lock:  # one request per second per token
            wait = self._last + self._min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
        try:
            response = self._http.request(method, self._base + path, json=body, headers=self._auth)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Statuspage unreachable: {type(exc).__name__}") from exc
        return _answer(response)


def _answer(response: httpx.Response) -> Any:
    status = response.status_code
    if status in (420, 429):
        retry_after = response.headers.get("Retry-After")
        return_after = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
        raise RateLimited(f"Statuspage: HTTP {status}", return_after)
    if status >= 500:
        raise Unavailable(f"Statuspage: HTTP {status}")
    if status in (401, 403):
        raise AuthFailed(f"Statuspage refused the API key: HTTP {status}")
    if status >= 400:
        raise Rejected(f"Statuspage refused the update: HTTP {status} {response.text[:300]}")
    return response.json()
