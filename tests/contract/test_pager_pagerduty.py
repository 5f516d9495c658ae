"""The PagerDuty pager against a local server that answers as the Events API v2 does
(shared/reference/integrations.md §1): it validates each event with PagerDuty's rules (SO1's
own `/v2/enqueue` parser, checked against PagerDuty's documented examples), answers 202 with
the dedup_key, and can be told to fail with 429, 502, 400 or a 202 without a dedup_key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from so1.adapters.paging.pagerduty import PagerDutyPager
from so1.adapters.sources.pagerduty_events import InvalidEvent, parse_enqueue
from so1.domain.comms import Destination, Outbound
from so1.errors import RateLimited, Rejected, Unavailable
from tests.contract import sample_incident

KEY = "e93facc04764012d7bfb002500d5d1a6"
OTHER_KEY = "737ea619db564d41bd9824063e1f6b08"
NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
INCIDENT = sample_incident("SEV2")


class EventsApi(BaseHTTPRequestHandler):
    scripted: list[tuple[int, dict[str, Any] | None, dict[str, str]]]
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(raw))
        if self.scripted:
            status, body, headers = self.scripted.pop(0)
        else:
            status, body, headers = self._validate(raw)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    @staticmethod
    def _validate(raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            event = parse_enqueue(raw)
        except InvalidEvent as exc:
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": exc.errors,
            }
            return 400, body, {}
        ok = {"status": "success", "message": "Event processed", "dedup_key": event.event.dedup_key}
        return 202, ok, {}

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def events_api() -> Iterator[tuple[str, type[EventsApi]]]:
    handler = type("Handler", (EventsApi,), {"scripted": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue", handler
    server.shutdown()
    server.server_close()


def page(action: str = "trigger", team: str | None = "backend") -> Outbound:
    payload = {"action": action, "dedup_key": "so1-INC-20240115-0042-oncall-backend", "team": team}
    return Outbound(
        INCIDENT.id,
        Destination.PAGER,
        "person",
        "page",
        "incident commander",
        NOW,
        target="oncall-backend",
        payload=payload,
        id=7,
    )


def pager(url: str) -> PagerDutyPager:
    return PagerDutyPager({"backend": KEY, "default": OTHER_KEY}, url, timeout=5)


def test_trigger_acknowledge_resolve_are_valid_events_with_one_dedup_key(
    events_api: tuple[str, type[EventsApi]],
) -> None:
    url, api = events_api
    for action in ("trigger", "acknowledge", "resolve"):
        facts = pager(url).deliver(page(action), INCIDENT)
        assert facts["dedup_key"] == "so1-INC-20240115-0042-oncall-backend"
    trigger, ack, resolve = api.received
    assert [e["event_action"] for e in api.received] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in api.received} == {"so1-INC-20240115-0042-oncall-backend"}
    assert {e["routing_key"] for e in api.received} == {KEY}
    assert trigger["payload"]["severity"] == "error"  # SEV2
    assert trigger["payload"]["summary"] == "SEV2: API error rate spike (@oncall-backend)"
    assert trigger["payload"]["custom_details"]["war_room"] == "#incident-20240115-0042"
    assert "payload" not in ack and "payload" not in resolve


def test_routing_key_falls_back_to_default_and_is_required(
    events_api: tuple[str, type[EventsApi]],
) -> None:
    url, api = events_api
    pager(url).deliver(page(team="data"), INCIDENT)
    assert api.received[-1]["routing_key"] == OTHER_KEY
    with pytest.raises(Rejected, match="SO1_PAGERDUTY_ROUTING_KEYS"):
        PagerDutyPager({"backend": KEY}, url).deliver(page(team="data"), INCIDENT)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "retry_after"),
    [
        (429, None, {"Retry-After": "7"}, RateLimited, 7.0),
        (429, None, {}, RateLimited, 30.0),
        (502, None, {}, Unavailable, None),
        (202, {"status": "success"}, {}, Unavailable, None),  # 202 without dedup_key
        (400, {"status": "invalid event"}, {}, Rejected, None),
    ],
)
def test_failures_map_to_retry_or_give_up(
    events_api: tuple[str, type[EventsApi]],
    status: int,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    error: type[Exception],
    retry_after: float | None,
) -> None:
    url, api = events_api
    api.scripted.append((status, body, headers))
    with pytest.raises(error) as raised:
        pager(url).deliver(page(), INCIDENT)
    if retry_after is not None:
        assert isinstance(raised.value, RateLimited)
        assert raised.value.retry_after_seconds == retry_after
    pager(url).deliver(page(), INCIDENT)  # the retry: same dedup_key, now accepted
    assert api.received[0]["dedup_key"] == api.received[1]["dedup_key"]


def test_unreachable_pagerduty_is_retryable() -> None:
    with pytest.raises(Unavailable, match="unreachable"):
        PagerDutyPager({"default": KEY}, "http://127.0.0.1:9/v2/enqueue", timeout=2).deliver(
            page(), INCIDENT
        )
