"""The PagerDuty pager against httpx.MockTransport answering as the Events API v2 does
(shared/reference/integrations.md §1): it validates each event with PagerDuty's rules (SO1's
own `/v2/enqueue` parser, checked against PagerDuty's documented examples), answers 202 with
the dedup_key, and can be told to fail with 429, 502, 400 or a 202 without a dedup_key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from so1.adapters.paging.pagerduty import PagerDutyPager
from so1.adapters.sources.pagerduty_events import InvalidEvent, parse_enqueue
from so1.domain.comms import Destination, Outbound
from so1.errors import RateLimited, Rejected, Unavailable
from tests.contract import sample_incident

KEY = "e93facc04764012d7bfb002500d5d1a6"
OTHER_KEY = "737ea619db564d41bd9824063e1f6b08"
NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
URL = "https://events.pagerduty.com/v2/enqueue"
INCIDENT = sample_incident("SEV2")


class EventsApi:
    """PagerDuty's Events API v2 behind httpx.MockTransport: validates each event as PagerDuty
    does, answers 202 with the dedup_key, or what a test scripted."""

    def __init__(self) -> None:
        self.scripted: list[tuple[int, dict[str, Any] | None, dict[str, str]]] = []
        self.received: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        raw = request.content
        self.received.append(json.loads(raw))
        if self.scripted:
            status, body, headers = self.scripted.pop(0)
        else:
            status, body, headers = self._validate(raw)
        return httpx.Response(status, json=body or {}, headers=headers)

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


@pytest.fixture
def events_api() -> EventsApi:
    return EventsApi()


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


def pager(api: EventsApi, keys: dict[str, str] | None = None) -> PagerDutyPager:
    http = httpx.Client(transport=httpx.MockTransport(api))
    return PagerDutyPager(keys or {"backend": KEY, "default": OTHER_KEY}, http, URL)


def test_trigger_acknowledge_resolve_are_valid_events_with_one_dedup_key(
    events_api: EventsApi,
) -> None:
    api = events_api
    for action in ("trigger", "acknowledge", "resolve"):
        facts = pager(api).deliver(page(action), INCIDENT)
        assert facts["dedup_key"] == "so1-INC-20240115-0042-oncall-backend"
    trigger, ack, resolve = api.received
    assert [e["event_action"] for e in api.received] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in api.received} == {"so1-INC-20240115-0042-oncall-backend"}
    assert {e["routing_key"] for e in api.received} == {KEY}
    assert trigger["payload"]["severity"] == "error"  # SEV2
    assert trigger["payload"]["summary"] == "SEV2: API error rate spike (@oncall-backend)"
    assert trigger["payload"]["custom_details"]["war_room"] == "#incident-20240115-0042"
    assert "payload" not in ack and "payload" not in resolve
    assert set(api.urls) == {URL}


def test_routing_key_falls_back_to_default_and_is_required(events_api: EventsApi) -> None:
    api = events_api
    pager(api).deliver(page(team="data"), INCIDENT)
    assert api.received[-1]["routing_key"] == OTHER_KEY
    with pytest.raises(Rejected, match="SO1_PAGERDUTY_ROUTING_KEYS"):
        pager(api, {"backend": KEY}).deliver(page(team="data"), INCIDENT)
    assert len(api.received) == 1  # nothing sent without a routing key


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
    events_api: EventsApi,
    status: int,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    error: type[Exception],
    retry_after: float | None,
) -> None:
    api = events_api
    api.scripted.append((status, body, headers))
    with pytest.raises(error) as raised:
        pager(api).deliver(page(), INCIDENT)
    if retry_after is not None:
        assert isinstance(raised.value, RateLimited)
        assert raised.value.retry_after_seconds == retry_after
    pager(api).deliver(page(), INCIDENT)  # the retry: same dedup_key, now accepted
    assert api.received[0]["dedup_key"] == api.received[1]["dedup_key"]


def test_unreachable_pagerduty_is_retryable() -> None:
    """A real connection refused (nothing listens on port 9), not a mocked one."""
    unreachable = PagerDutyPager(
        {"default": KEY}, httpx.Client(timeout=2), "http://127.0.0.1:9/v2/enqueue"
    )
    with pytest.raises(Unavailable, match="unreachable"):
        unreachable.deliver(page(), INCIDENT)
