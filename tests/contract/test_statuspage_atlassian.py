"""The Atlassian Statuspage adapter against httpx.MockTransport answering as Statuspage's REST
API v1 does (shared/reference/integrations.md §6): OAuth key, incidents created with POST and
updated with PATCH, unresolved listing, 420/429 rate limiting; and, over a local server's real
sockets, a create whose answer is lost (the client times out after the server made it)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from so1.adapters.statuspage.atlassian import API, AtlassianStatusPage
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


class Statuspage:
    """Statuspage's REST API v1 for one page, whatever carries the requests (httpx's
    MockTransport, or a local server where a test needs real sockets and timeouts)."""

    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}
        self.scripted: list[int] = []
        self.paths: list[tuple[str, str]] = []

    def answer(
        self, method: str, path: str, key: str | None, body: dict[str, Any] | None
    ) -> tuple[int, Any]:
        self.paths.append((method, path))
        if key != f"OAuth {API_KEY}":
            return 401, {"error": "unauthorised"}
        if method == "GET" and path == f"/v1/pages/{PAGE}/incidents/unresolved":
            return 200, [i for i in self.incidents.values() if i["status"] != "resolved"]
        if self.scripted:
            return self.scripted.pop(0), {"error": "scripted"}
        assert body is not None and path.startswith(f"/v1/pages/{PAGE}/incidents")
        fields = body["incident"]
        if fields.get("status") not in STATES or not fields.get("name"):
            return 422, {"error": "invalid incident"}
        assert set(fields.get("components", {}).values()) <= COMPONENT_STATES
        if method == "POST":
            incident_id = f"sp{len(self.incidents) + 1:04d}"
            self.incidents[incident_id] = {"id": incident_id, "updates": [], **fields}
        else:
            incident_id = path.rsplit("/", 1)[-1]
            self.incidents[incident_id].update(fields)
        self.incidents[incident_id]["updates"].append(fields["body"])
        return (201 if method == "POST" else 200), self.incidents[incident_id]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        status, answer = self.answer(
            request.method, request.url.path, request.headers.get("Authorization"), body
        )
        return httpx.Response(status, json=answer)


@contextlib.contextmanager
def slow_server(api: Statuspage, create_delay: float) -> Iterator[str]:
    """The same API on loopback, whose first create answers only after ``create_delay``
    seconds (the incident already made): a client that gives up first loses the answer."""
    delays = [create_delay]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve(None)

        def do_POST(self) -> None:
            self._serve(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

        def do_PATCH(self) -> None:
            self.do_POST()

        def _serve(self, body: dict[str, Any] | None) -> None:
            key = self.headers.get("Authorization")
            status, answer = api.answer(self.command, self.path, key, body)
            if self.command == "POST" and delays:
                time.sleep(delays.pop(0))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(json.dumps(answer).encode())

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def statuspage() -> Statuspage:
    return Statuspage()


def adapter(
    api: Statuspage | None, key: str = API_KEY, url: str = API, timeout: float = 5.0
) -> AtlassianStatusPage:
    """The adapter on MockTransport (``api``), or over real sockets to ``url``."""
    transport = httpx.MockTransport(api) if api is not None else None
    http = httpx.Client(transport=transport, timeout=timeout)
    components = {"control-plane-api": COMPONENT}
    return AtlassianStatusPage(PAGE, key, components, http, url, min_interval=0.0)


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


def test_first_update_creates_later_ones_patch_the_same_incident(statuspage: Statuspage) -> None:
    api = statuspage
    page = adapter(api)
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
    assert api.paths == [
        ("POST", f"/v1/pages/{PAGE}/incidents"),
        ("PATCH", f"/v1/pages/{PAGE}/incidents/{made['id']}"),
    ]


def test_a_create_whose_answer_was_lost_is_not_made_twice(statuspage: Statuspage) -> None:
    api = statuspage
    with slow_server(api, create_delay=2.0) as url:
        with pytest.raises(Exception, match="unreachable"):
            adapter(None, url=url, timeout=0.5).deliver(update("investigating"), INCIDENT)
        facts = adapter(None, url=url).deliver(update("investigating", attempts=2), INCIDENT)
    assert len(api.incidents) == 1
    assert facts["statuspage_incident_id"] == next(iter(api.incidents))


@pytest.mark.parametrize(
    ("status", "error"), [(420, RateLimited), (429, RateLimited), (422, Rejected), (503, Exception)]
)
def test_rate_limits_and_refusals(
    statuspage: Statuspage, status: int, error: type[Exception]
) -> None:
    api = statuspage
    api.scripted.append(status)
    with pytest.raises(error):
        adapter(api).deliver(update("investigating"), INCIDENT)
    assert api.incidents == {}


def test_wrong_key_is_an_auth_failure(statuspage: Statuspage) -> None:
    with pytest.raises(AuthFailed):
        adapter(statuspage, key="wrong").deliver(update("investigating"), INCIDENT)
    assert statuspage.incidents == {}


def test_requests_are_spaced_to_one_per_second() -> None:
    http = httpx.Client(timeout=0.2)  # real sockets: nothing listens on port 9
    page = AtlassianStatusPage(PAGE, API_KEY, {}, http, "http://127.0.0.1:9/v1/", min_interval=0.3)
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(Exception, match="unreachable"):
            page.deliver(update("investigating"), INCIDENT)
    assert time.monotonic() - started >= 0.6
