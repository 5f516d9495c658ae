"""`/incident` over Slack's signed slash-command protocol (v0 signing, form body)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from so1.adapters.chat.slack import SlackChat, web_client
from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.comms import Destination
from so1.entrypoints.api.app import create_app
from so1.services.declaration.outbox import deliver_due
from tests.contract.test_chat_slack import TOKEN, SlackApi
from tests.e2e.test_api_oncall import example

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# Slack's own vector (python-slack-sdk tests/slack_sdk/signature/test_signature_verifier.py).
VECTOR_TS = "1531420618"
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmib"
    "IGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def start_slack() -> tuple[ThreadingHTTPServer, type[SlackApi]]:
    fresh: dict[str, Any] = {"channels": {}, "calls": [], "scripted": {}, "users": {}}
    handler = type("Handler", (SlackApi,), fresh)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def slack_api(container: Container, admin_token: str) -> Iterator[TestClient]:
    settings = container.settings
    settings.slack_signing_secret = SecretStr(SECRET)
    settings.triage_worker = settings.delivery_worker = settings.runbook_clocks = False
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


def signed(body: str, ts: str, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command(
    api: TestClient, clock: FixedClock, text: str, room: str = "general", user: str = "U01ANA"
) -> dict[str, str]:
    """``user``: Ana (oncall-backend in the example directory) unless said otherwise."""
    fields = {"command": "/incident", "text": text, "user_name": "ana", "user_id": user}
    body = urlencode({**fields, "channel_name": room})
    ts = str(int(clock.now().timestamp()))
    response = api.post("/v1/slack/commands", content=body, headers=signed(body, ts))
    assert response.status_code == 200, response.text
    answer: dict[str, str] = response.json()
    return answer


def test_slacks_own_vector_is_accepted_and_a_changed_body_is_not(
    slack_api: TestClient, clock: FixedClock
) -> None:
    clock.set(datetime.fromtimestamp(int(VECTOR_TS), UTC))
    headers = {
        "X-Slack-Request-Timestamp": VECTOR_TS,
        "X-Slack-Signature": VECTOR_SIG,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert signed(VECTOR_BODY, VECTOR_TS)["X-Slack-Signature"] == VECTOR_SIG
    ok = slack_api.post("/v1/slack/commands", content=VECTOR_BODY, headers=headers)
    # signature accepted; its user (U2CERLKJA) is linked to nobody here, so: told how to link
    assert ok.status_code == 200 and "does not know who you are" in ok.json()["text"]
    tampered = slack_api.post("/v1/slack/commands", content=VECTOR_BODY + "x", headers=headers)
    assert tampered.status_code == 401


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"X-Slack-Request-Timestamp": "not-a-number"}, "non-numeric timestamp"),
        ({"X-Slack-Signature": "v0=" + "0" * 64}, "wrong signature"),
    ],
)
def test_bad_signatures_are_401_never_500(
    slack_api: TestClient, clock: FixedClock, change: dict[str, str], why: str
) -> None:
    body = urlencode({"text": "help"})
    headers = {**signed(body, str(int(clock.now().timestamp()))), **change}
    assert slack_api.post("/v1/slack/commands", content=body, headers=headers).status_code == 401, (
        why
    )


def test_stale_and_unsigned_requests_are_refused(slack_api: TestClient, clock: FixedClock) -> None:
    body = urlencode({"text": "help"})
    stale = signed(body, str(int(clock.now().timestamp()) - 301))
    assert slack_api.post("/v1/slack/commands", content=body, headers=stale).status_code == 401
    assert slack_api.post("/v1/slack/commands", content=body).status_code == 401


def test_create_declares_and_opens_the_war_room(slack_api: TestClient, clock: FixedClock) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    body = {"tier": "critical", "owner_team": "backend"}
    slack_api.put("/v1/services/control-plane-api", json=body)
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    answer = command(slack_api, clock, 'create SEV2 "API error rate spike" control-plane-api')
    assert answer["response_type"] == "in_channel"
    assert answer["text"] == (
        "INC-20260107-0001 declared: SEV2 API error rate spike. "
        "War room #incident-20260107-0001, commander @oncall-backend"
    )
    incident = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert (incident["status"], incident["commander"]) == ("investigating", "oncall-backend")
    status = command(slack_api, clock, "status INC-20260107-0001")
    assert "SEV2, investigating" in status["text"]


@pytest.mark.parametrize(
    "text",
    ["", "help", "create", 'create SEV9 "x"', 'create SEV2 "unclosed', "status nope", "delete all"],
)
def test_bad_text_gets_the_usage_privately(
    slack_api: TestClient, clock: FixedClock, text: str
) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    answer = command(slack_api, clock, text)
    assert answer["response_type"] == "ephemeral"
    assert "Usage" in answer["text"]
    assert slack_api.get("/v1/incidents").json()["total"] == 0


def test_status_of_a_missing_incident_says_so(slack_api: TestClient, clock: FixedClock) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    answer = command(slack_api, clock, "status INC-20240115-9999")
    assert (answer["response_type"], "does not exist" in answer["text"]) == ("ephemeral", True)


def test_war_room_commands_act_on_the_rooms_incident(
    slack_api: TestClient, clock: FixedClock
) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    command(slack_api, clock, 'create SEV2 "API error rate spike"')
    room = "incident-20260107-0001"
    assert "SEV2, investigating" in command(slack_api, clock, "status", room)["text"]
    changed = command(slack_api, clock, 'severity SEV1 "pool at 100%"', room)
    assert changed == {
        "response_type": "in_channel",
        "text": "INC-20260107-0001 is now SEV1: pool at 100%",
    }
    assert "commander" in command(slack_api, clock, "handover @bo", room)["text"]
    assert (
        "update recorded" in command(slack_api, clock, 'update "pool raised to 50"', room)["text"]
    )
    done = command(slack_api, clock, 'resolve "Increased connection pool size"', room)
    assert done["text"] == "INC-20260107-0001 resolved: Increased connection pool size"
    incident = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert (incident["severity"], incident["status"], incident["commander"]) == (
        "SEV1",
        "resolved",
        "bo",
    )
    notes = slack_api.get("/v1/incidents/INC-20260107-0001/messages", params={"to": "war_room"})
    assert any(m["text"] == "Update: pool raised to 50" for m in notes.json())
    missing = command(slack_api, clock, "handover INC-20260107-0099 @bo", room)
    assert missing["response_type"] == "ephemeral" and "does not exist" in missing["text"]


def test_a_severity_change_from_slack_needs_a_reason(
    slack_api: TestClient, clock: FixedClock
) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    command(slack_api, clock, 'create SEV2 "API error rate spike"')
    room = "incident-20260107-0001"
    refused = command(slack_api, clock, "severity SEV1", room)
    assert refused["response_type"] == "ephemeral" and "needs a reason" in refused["text"]
    incident = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert incident["severity"] == "SEV2"
    command(slack_api, clock, 'severity SEV1 "checkout failing too"', room)
    said = slack_api.get("/v1/incidents/INC-20260107-0001/messages").json()
    changed = [m for m in said if m["kind"] == "severity_changed"]
    assert len(changed) == 1 and "checkout failing too" in changed[0]["text"]


def event(api: TestClient, clock: FixedClock, document: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(document)
    headers = {
        **signed(body, str(int(clock.now().timestamp()))),
        "Content-Type": "application/json",
    }
    response = api.post("/v1/slack/events", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_events_url_check_and_eyes_reaction_acknowledges(
    slack_api: TestClient, clock: FixedClock, container: Container
) -> None:
    assert event(slack_api, clock, {"type": "url_verification", "challenge": "c-123"}) == {
        "challenge": "c-123"
    }
    slack_api.put("/v1/oncall/config", json=example())
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    command(slack_api, clock, 'create SEV2 "API error rate spike"')
    server, handler = start_slack()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/"
        chat = SlackChat(web_client(TOKEN, url))
        messengers = {**container.adapters.messengers, Destination.WAR_ROOM: chat}
        deliver_due(container.uow, clock, messengers)
    finally:
        server.shutdown()
        server.server_close()
    (room,) = handler.channels.values()
    assert room["name"] == "incident-20260107-0001"
    assert set(room["members"]) == {"U01ANA", "U01DEE"}  # commander and backup
    posted = {"channel": room["id"], "ts": "1705329900.000001", "type": "message"}

    def react(reaction: str, user: str = "U01ANA") -> dict[str, Any]:
        inner = {"type": "reaction_added", "user": user, "reaction": reaction, "item": posted}
        return event(
            slack_api, clock, {"type": "event_callback", "event_id": "Ev1", "event": inner}
        )

    assert react("thumbsup") == {"ok": True, "acknowledged": None}
    stored = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert stored["acknowledged_at"] is None  # declaring from Slack is not an acknowledgement
    assert react("eyes") == {"ok": True, "acknowledged": "INC-20260107-0001"}
    stored = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert (stored["acknowledged_by"], stored["acknowledged_via"]) == ("oncall-backend", "slack")
    assert react("eyes") == {"ok": True, "acknowledged": "INC-20260107-0001"}  # a retry
    timeline = slack_api.get("/v1/incidents/INC-20260107-0001/timeline").json()["events"]
    acks = [e for e in timeline if e["kind"] == "incident.acknowledged"]
    assert [e["actor"] for e in acks] == ["oncall-backend"]
    not_ours = {
        "type": "event_callback",
        "event": {
            "type": "reaction_added",
            "reaction": "eyes",
            "user": "U9",
            "item": {"channel": "C404", "ts": "1.2"},
        },
    }
    assert event(slack_api, clock, not_ours)["acknowledged"] is None
    bad = slack_api.post(
        "/v1/slack/events", content="[1]", headers=signed("[1]", str(int(clock.now().timestamp())))
    )
    assert bad.status_code == 400


def test_whole_declaration_through_slack_and_pagerduty_survives_their_outages(
    slack_api: TestClient, clock: FixedClock, container: Container
) -> None:
    from so1.adapters.paging.pagerduty import PagerDutyPager
    from tests.contract.test_pager_pagerduty import KEY, EventsApi

    slack_server, slack = start_slack()
    pd_handler = EventsApi()  # PagerDuty on httpx.MockTransport; Slack's SDK needs sockets
    pd_http = httpx.Client(transport=httpx.MockTransport(pd_handler))
    try:
        slack_url = f"http://127.0.0.1:{slack_server.server_address[1]}/api/"
        messengers = {
            **container.adapters.messengers,
            Destination.WAR_ROOM: SlackChat(web_client(TOKEN, slack_url)),
            Destination.PAGER: PagerDutyPager({"default": KEY}, pd_http),
        }
        slack_api.put("/v1/oncall/config", json=example())
        clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
        outage: Any = (503, {"ok": False, "error": "service_unavailable"}, {})
        limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "5"})
        slack.scripted["chat.postMessage"] = [outage, limited]
        pd_handler.scripted += [(502, None, {}), (429, None, {"Retry-After": "5"})]
        command(slack_api, clock, 'create SEV1 "Checkout down"')
        for _ in range(6):  # outages: each attempt fails, is kept, and retried later
            deliver_due(container.uow, clock, messengers)
            clock.advance(timedelta(seconds=40))
    finally:
        slack_server.shutdown()
        slack_server.server_close()
    said = slack_api.get("/v1/incidents/INC-20260107-0001/messages").json()
    assert {m["status"] for m in said} == {"sent"}, said
    (room,) = slack.channels.values()
    assert room["messages"][0].startswith("🔴 **SEV1 Incident Declared: Checkout Down**")
    triggers = [e for e in pd_handler.received if e["event_action"] == "trigger"]
    by_key: dict[str, int] = {}
    for e in triggers:
        by_key[e["dedup_key"]] = by_key.get(e["dedup_key"], 0) + 1
    assert max(by_key.values()) >= 2  # a failed page was retried with the same key
    assert len(by_key) == sum(m["to"] == "pager" for m in said)  # one PagerDuty alert per page


def test_a_linked_person_acts_within_their_role_and_not_when_disabled(
    slack_api: TestClient, clock: FixedClock
) -> None:
    """Ana (Slack U01ANA, handle oncall-backend) as a viewer may ask for the status but not
    change anything; disabled, she may do nothing; enabled as a responder, she may act."""
    slack_api.put("/v1/oncall/config", json=example())
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    command(slack_api, clock, 'create SEV2 "API error rate spike"')
    room, ana = "incident-20260107-0001", "U01ANA"
    role = "/v1/people/oncall-backend/role"
    assert slack_api.put(role, json={"role": "viewer"}).status_code == 200
    assert "SEV2" in command(slack_api, clock, "status", room, user=ana)["text"]
    refused = command(slack_api, clock, 'resolve "fixed"', room, user=ana)
    assert refused["response_type"] == "ephemeral" and "role (viewer)" in refused["text"]
    assert slack_api.post("/v1/people/oncall-backend/disable").status_code == 200
    gone = command(slack_api, clock, "status", room, user=ana)
    assert "disabled" in gone["text"] and "SEV2" not in gone["text"]
    assert slack_api.post("/v1/people/oncall-backend/enable").status_code == 200
    assert slack_api.put(role, json={"role": "responder"}).status_code == 200
    done = command(slack_api, clock, 'resolve "pool raised"', room, user=ana)
    assert done["response_type"] == "in_channel", done
    approve = command(slack_api, clock, "approve run_nothing", room, user=ana)
    assert "Approvals from Slack" in approve["text"]  # a responder does not deploy
    incident = slack_api.get("/v1/incidents/INC-20260107-0001").json()
    assert incident["status"] == "resolved"
