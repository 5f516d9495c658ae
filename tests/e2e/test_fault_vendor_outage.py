"""Fault: Slack and PagerDuty go away while incidents are declared. Their local servers (the
contract tests' own, speaking each vendor's protocol) first answer 500, then refuse
connections, then come back; SO1's outbox retries with back-off, and afterwards every war-room
message and every page has been delivered exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import SystemClock
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from tests.contract.test_chat_slack import TOKEN, SlackApi
from tests.contract.test_pager_pagerduty import KEY, EventsApi
from tests.e2e.fault_support import wait_until

INCIDENTS = 4
FAILING_SECONDS = 3.0  # answering 500
DOWN_SECONDS = 3.0  # refusing connections


class Vendor:
    """A vendor's local server that can be switched to answering 500, or off altogether."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        vendor = self
        self.failing = False
        self.refused = 0  # requests answered 500

        class Switchable(handler):  # type: ignore[valid-type,misc]
            def do_POST(self) -> None:  # noqa: N802 - the handler protocol's name
                if not vendor.failing:
                    super().do_POST()
                    return
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                vendor.refused += 1
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": false, "error": "internal_error"}')

        self.handler = Switchable
        self.server = self._serve(0)
        self.port: int = self.server.server_address[1]

    def _serve(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self.handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def up(self) -> None:
        self.failing = False
        self.server = self._serve(self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def over_a_socket(api: EventsApi) -> type[BaseHTTPRequestHandler]:
    """PagerDuty's Events API (written for httpx.MockTransport) behind a real socket, which is
    what an outage needs: a server that can answer 500 or stop listening."""

    class PagerDuty(BaseHTTPRequestHandler):
        received = api.received  # every event that reached the server, as PagerDuty read it

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
            answer = api(httpx.Request("POST", url, content=raw, headers=dict(self.headers)))
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return PagerDuty


@pytest.fixture
def vendors() -> Iterator[tuple[Vendor, Vendor]]:
    slack = Vendor(type("Slack", (SlackApi,), {"channels": {}, "calls": [], "scripted": {}}))
    pagerduty = Vendor(over_a_socket(EventsApi()))
    yield slack, pagerduty
    for vendor in (slack, pagerduty):
        vendor.close()


@pytest.fixture
def live(db_url: str, vendors: tuple[Vendor, Vendor]) -> Iterator[tuple[TestClient, Container]]:
    """The API with its background work in threads, on the real clock (back-off is real)."""
    slack, pagerduty = vendors
    settings = Settings(
        database_url=db_url,
        chat="slack",
        slack_bot_token=TOKEN,
        slack_api_url=f"http://127.0.0.1:{slack.port}/api/",
        pager="pagerduty",
        pagerduty_routing_keys={"default": KEY},
        pagerduty_events_url=f"http://127.0.0.1:{pagerduty.port}/v2/enqueue",
        triage_worker=False,
        runbook_clocks=False,
    )
    container = build_container(settings, clock=SystemClock())
    token = access.ensure_admin_key(container.uow, container.clock)
    assert token is not None
    with TestClient(create_app(container)) as api:
        api.headers["Authorization"] = f"Bearer {token.token}"
        yield api, container
    container.close()


def declare(api: TestClient, n: int) -> str:
    made = api.post("/v1/incidents", json={"title": f"Checkout errors {n}", "severity": "SEV2"})
    incident_id: str = made.json()["id"]
    inputs = {"incident_id": incident_id, "severity": "SEV2", "commander": f"oncall-{n}"}
    run = api.post("/v1/orchestrate", json={"agent": "incident-commander", "inputs": inputs})
    assert run.status_code == 200, run.text
    return incident_id


def outbox(api: TestClient, incident_ids: list[str]) -> list[dict[str, Any]]:
    return [m for i in incident_ids for m in api.get(f"/v1/incidents/{i}/messages").json()]


def test_every_message_is_delivered_once_after_a_vendor_outage(
    live: tuple[TestClient, Container], vendors: tuple[Vendor, Vendor]
) -> None:
    api, _ = live
    slack, pagerduty = vendors
    for vendor in vendors:
        vendor.failing = True
    incident_ids = [declare(api, n) for n in range(INCIDENTS)]
    wait_until(lambda: slack.refused and pagerduty.refused, "attempts during the outage")
    time.sleep(FAILING_SECONDS)
    for vendor in vendors:
        vendor.down()
    time.sleep(DOWN_SECONDS)
    for vendor in vendors:
        vendor.up()

    def delivered() -> bool:
        said = outbox(api, incident_ids)
        return bool(said) and all(m["status"] == "sent" for m in said)

    wait_until(delivered, "every message delivered", timeout=90)
    said = outbox(api, incident_ids)
    chat = [m for m in said if m["to"] == "war_room"]
    pages = [m for m in said if m["to"] == "pager"]
    assert len(chat) >= INCIDENTS and len(pages) >= INCIDENTS
    assert all(m["attempts"] >= 2 for m in said)  # each one met the outage
    assert slack.refused >= len(chat) and pagerduty.refused >= len(pages)

    posted = Counter(text for c in slack.handler.channels.values() for text in c["messages"])
    assert sorted(posted.elements()) == sorted(m["text"] for m in chat)
    assert set(posted.values()) == {1}
    accepted = Counter(
        (e["dedup_key"], e["event_action"])
        for e in pagerduty.handler.received
        if e.get("routing_key") == KEY
    )
    assert len(accepted) == len(pages) and set(accepted.values()) == {1}
