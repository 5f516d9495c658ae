"""The Atlassian Statuspage adapter against a local server that answers as Statuspage's REST
API v1 does (shared/reference/integrations.md §6): OAuth key, incidents created with POST and
updated with PATCH, unresolved listing, 420/429 rate limiting, and a create whose answer is
lost (the client times out after the server made the incident)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from so1.adapters.statuspage.atlassian import AtlassianStatusPage
from so1.domain.comms import Destination, Outbound
from so1.errors import AuthFailed, RateLimited, Rejected
from tests.contract import sample_incident

API_KEY = "sp-key"
PAGE = "kctbh9vrtdwd"
COMPONENT = "8kbf7d35c070"
NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
INCIDENT = sample_incident("SEV1", channel=None)
STATES = {"investigating", "identified", "monitoring", "resolved"}
COMPONENT_STATES = {"operational", "degraded_performance", "partial_outage", "major_outage"}


class StatuspageApi(BaseHTTPRequestHandler):
    incidents: dict[str, dict[str, Any]]
    scripted: list[int]
    slow_create: list[float]

    def do_GET(self) -> None:
        if not self._authorised():
            return
        open_ones = [i for i in self.incidents.values() if i["status"] != "resolved"]
        self._answer(200, open_ones)

    def do_POST(self) -> None:
        self._write(create=True)

    def do_PATCH(self) -> None:
        self._write(create=False)

    def _write(self, create: bool) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self._authorised():
            return
        if self.scripted:
            self._answer(self.scripted.pop(0), {"error": "scripted"})
            return
        fields = body["incident"]
        if fields.get("status") not in STATES or not fields.get("name"):
            self._answer(422, {"error": "invalid incident"})
            return
        assert set(fields.get("components", {}).values()) <= COMPONENT_STATES
        if create:
            incident_id = f"sp{len(self.incidents) + 1:04d}"
            self.incidents[incident_id] = {"id": incident_id, "updates": [], **fields}
        else:
            incident_id = self.path.rsplit("/", 1)[-1]
            self.incidents[incident_id].update(fields)
        self.incidents[incident_id]["updates"].append(fields["body"])
        if create and self.slow_create:
            time.sleep(self.slow_create.pop(0))  # the client gives up before this answer
        self._answer(201 if create else 200, self.incidents[incident_id])

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"OAuth {API_KEY}":
            self._answer(401, {"error": "unauthorised"})
            return False
        return True

    def _answer(self, status: int, body: Any) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(json.dumps(body).encode())

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def statuspage() -> Iterator[tuple[str, type[StatuspageApi]]]:
    attrs: dict[str, Any] = {"incidents": {}, "scripted": [], "slow_create": []}
    handler = type("Handler", (StatuspageApi,), attrs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/", handler
    server.shutdown()
    server.server_close()


def adapter(url: str, key: str = API_KEY, timeout: float = 5.0) -> AtlassianStatusPage:
    components = {"control-plane-api": COMPONENT}
    return AtlassianStatusPage(PAGE, key, components, url, min_interval=0.0, timeout=timeout)


def update(state: str, attempts: int = 1, **payload: Any) -> Outbound:
    body = f"**{state.capitalize()} - API Performance Issues**\nWe are on it ({state})."
    base = {"title": "API Performance Issues", "state": state}
    return Outbound(
        INCIDENT.id,
        Destination.STATUS_PAGE,
        "customer",
        "update",
        body,
        NOW,
        payload={**base, **payload},
        attempts=attempts,
        id=3,
    )


def test_first_update_creates_later_ones_patch_the_same_incident(
    statuspage: tuple[str, type[StatuspageApi]],
) -> None:
    url, api = statuspage
    page = adapter(url)
    facts = page.deliver(update("investigating"), INCIDENT)
    page.deliver(
        update("resolved", statuspage_incident_id=facts["statuspage_incident_id"]), INCIDENT
    )
    (made,) = api.incidents.values()
    assert (made["name"], made["status"], made["impact_override"]) == (
        "API Performance Issues",
        "resolved",
        "major",
    )
    assert made["updates"] == ["We are on it (investigating).", "We are on it (resolved)."]
    assert made["components"] == {COMPONENT: "operational"}
    assert made["metadata"] == {"so1": {"incident_id": INCIDENT.id}}


def test_a_create_whose_answer_was_lost_is_not_made_twice(
    statuspage: tuple[str, type[StatuspageApi]],
) -> None:
    url, api = statuspage
    api.slow_create.append(2.0)
    with pytest.raises(Exception, match="unreachable"):
        adapter(url, timeout=0.5).deliver(update("investigating"), INCIDENT)
    facts = adapter(url).deliver(update("investigating", attempts=2), INCIDENT)
    assert len(api.incidents) == 1
    assert facts["statuspage_incident_id"] == next(iter(api.incidents))


@pytest.mark.parametrize(
    ("status", "error"), [(420, RateLimited), (429, RateLimited), (422, Rejected), (503, Exception)]
)
def test_rate_limits_and_refusals(
    statuspage: tuple[str, type[StatuspageApi]], status: int, error: type[Exception]
) -> None:
    url, api = statuspage
    api.scripted.append(status)
    with pytest.raises(error):
        adapter(url).deliver(update("investigating"), INCIDENT)
    assert api.incidents == {}


def test_wrong_key_is_an_auth_failure(statuspage: tuple[str, type[StatuspageApi]]) -> None:
    url, _ = statuspage
    with pytest.raises(AuthFailed):
        adapter(url, key="wrong").deliver(update("investigating"), INCIDENT)


def test_requests_are_spaced_to_one_per_second() -> None:
    page = AtlassianStatusPage(
        PAGE, API_KEY, {}, "http://127.0.0.1:9/v1/", min_interval=0.3, timeout=0.2
    )
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(Exception, match="unreachable"):
            page.deliver(update("investigating"), INCIDENT)
    assert time.monotonic() - started >= 0.6
