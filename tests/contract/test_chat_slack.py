"""The Slack war room against a local server that answers as Slack's Web API does
(shared/reference/integrations.md §5): Bearer token, errors as HTTP 200 with ok:false,
name_taken for an existing channel, 429 with Retry-After."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from so1.adapters.chat.slack import SlackChat, channel_name, web_client
from so1.domain.comms import Destination, Outbound
from so1.errors import AuthFailed, RateLimited, Rejected, Unavailable
from tests.contract import sample_incident

TOKEN = "xoxb-test-token"
NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
INCIDENT = sample_incident("SEV2", service=None)
TOPIC = "SEV2: API error rate spike | Commander: @oncall-backend"


class SlackApi(BaseHTTPRequestHandler):
    channels: dict[str, dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]]
    scripted: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]]
    # the workspace's people: Slack user id → {"email": ..., "name": ...} (users.* methods)
    users: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (a subclass brings its own)

    def do_POST(self) -> None:
        method = self.path.rsplit("/", 1)[-1]
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            args = json.loads(raw or "{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        self._call(method, args)

    def do_GET(self) -> None:
        """slack-sdk sends users.info and users.lookupByEmail as GET with a query string."""
        path, _, query = self.path.partition("?")
        self._call(path.rsplit("/", 1)[-1], {k: v[0] for k, v in parse_qs(query).items()})

    def _call(self, method: str, args: dict[str, Any]) -> None:
        self.calls.append((method, args))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(200, {"ok": False, "error": "invalid_auth"})
        if self.scripted.get(method):
            return self._answer(*self.scripted[method].pop(0))
        return self._answer(200, self._handle(method, args))

    def _handle(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method.startswith("users."):
            return self._user(method, args)
        if method == "conversations.create":
            if any(c["name"] == args["name"] for c in self.channels.values()):
                return {"ok": False, "error": "name_taken"}
            channel_id = f"C{len(self.channels) + 1:08d}"
            self.channels[channel_id] = {"id": channel_id, "name": args["name"], "messages": []}
            return {"ok": True, "channel": {"id": channel_id, "name": args["name"]}}
        if method == "conversations.list":
            listed = [{"id": c["id"], "name": c["name"]} for c in self.channels.values()]
            return {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if method == "conversations.setTopic":
            channel["topic"] = args["topic"]
            return {"ok": True}
        if method == "conversations.invite":
            channel["members"] = args["users"].split(",")
            return {"ok": True}
        if channel.get("archived"):
            error = "already_archived" if method == "conversations.archive" else "is_archived"
            return {"ok": False, "error": error}
        if method == "conversations.archive":
            channel["archived"] = True
            return {"ok": True}
        if method == "chat.postEphemeral":
            channel.setdefault("ephemeral", []).append((args["user"], args["text"]))
            return {"ok": True, "message_ts": "1705329900.900000"}
        if method == "chat.postMessage":
            channel["messages"].append(args["text"])
            return {
                "ok": True,
                "channel": channel["id"],
                "ts": f"1705329900.{len(channel['messages']):06d}",
            }
        return {"ok": False, "error": "unknown_method"}

    def _user(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """As Slack documents them: users.info answers ``user_not_found``, users.lookupByEmail
        ``users_not_found``; the email is in ``user.profile.email``."""
        if method == "users.info":
            found = args.get("user") if args.get("user") in self.users else None
            error = "user_not_found"
        elif method == "users.lookupByEmail":
            email = str(args.get("email", "")).casefold()
            found = next((i for i, u in self.users.items() if u["email"] == email), None)
            error = "users_not_found"
        else:
            return {"ok": False, "error": "unknown_method"}
        if found is None:
            return {"ok": False, "error": error}
        user = self.users[found]
        profile = {"email": user["email"], "real_name": user.get("name", ""), "display_name": ""}
        body = {"id": found, "team_id": "T012AB3C4", "name": user.get("name", found),
                "deleted": False, "is_bot": False, "profile": profile}  # fmt: skip
        return {"ok": True, "user": body}

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def slack() -> Iterator[tuple[str, type[SlackApi]]]:
    handler = type("Handler", (SlackApi,), {"channels": {}, "calls": [], "scripted": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/", handler
    server.shutdown()
    server.server_close()


def message(text: str = "declared", **payload: Any) -> Outbound:
    base = {"channel": INCIDENT.channel, "topic": TOPIC, "invite": ["U01ANA", "U01BO"]}
    return Outbound(INCIDENT.id, Destination.WAR_ROOM, "internal", "declared", text, NOW,
                    payload={**base, **payload}, id=1)  # fmt: skip


def test_first_message_opens_the_war_room_then_posts_there(
    slack: tuple[str, type[SlackApi]],
) -> None:
    url, api = slack
    chat = SlackChat(web_client(TOKEN, url))
    facts = chat.deliver(message("🔴 **SEV2 Incident Declared**"), INCIDENT)
    (channel,) = api.channels.values()
    assert (channel["name"], channel["topic"]) == ("incident-20240115-0042", TOPIC)
    assert channel["members"] == ["U01ANA", "U01BO"]
    ts = "1705329900.000001"
    assert facts == {"channel_id": channel["id"], "ts": ts, "ref": f"slack:{channel['id']}:{ts}"}
    chat.deliver(message("update", channel_id=facts["channel_id"]), INCIDENT)
    assert channel["messages"] == ["🔴 **SEV2 Incident Declared**", "update"]
    assert [m for m, _ in api.calls].count("conversations.create") == 1


def test_a_severity_change_sets_the_new_topic(slack: tuple[str, type[SlackApi]]) -> None:
    url, api = slack
    chat = SlackChat(web_client(TOKEN, url))
    facts = chat.deliver(message(), INCIDENT)
    (channel,) = api.channels.values()
    raised = "SEV1: API error rate spike | Commander: @bo"
    changed = message("raised", channel_id=facts["channel_id"], topic=raised, set_topic=True)
    chat.deliver(changed, INCIDENT)
    assert (channel["topic"], channel["messages"]) == (raised, ["declared", "raised"])
    chat.deliver(message("later", channel_id=facts["channel_id"], topic="ignored"), INCIDENT)
    assert channel["topic"] == raised  # only a message that says so sets the topic


def test_retry_after_a_lost_answer_reuses_the_channel(slack: tuple[str, type[SlackApi]]) -> None:
    url, api = slack
    api.channels["C00000009"] = {
        "id": "C00000009",
        "name": "incident-20240115-0042",
        "messages": [],
    }
    facts = SlackChat(web_client(TOKEN, url)).deliver(message(), INCIDENT)
    assert facts["channel_id"] == "C00000009"
    assert len(api.channels) == 1 and api.channels["C00000009"]["messages"] == ["declared"]


def failure(status: int, error: str, headers: dict[str, str] | None = None) -> Any:
    return (status, {"ok": False, "error": error}, headers or {})


@pytest.mark.parametrize(
    ("method", "answer", "error", "match"),
    [
        ("chat.postMessage", failure(429, "ratelimited", {"Retry-After": "7"}), RateLimited,
         "ratelimited"),
        ("chat.postMessage", failure(200, "msg_too_long"), Rejected, "msg_too_long"),
        ("conversations.create", failure(200, "invalid_name_specials"), Rejected, "invalid_name"),
        ("chat.postMessage", failure(503, "service_unavailable"), Unavailable, "service"),
    ],
)  # fmt: skip
def test_slack_errors_map_to_retry_or_give_up(
    slack: tuple[str, type[SlackApi]], method: str, answer: Any, error: type[Exception], match: str
) -> None:
    url, api = slack
    api.scripted[method] = [answer]
    with pytest.raises(error, match=match) as raised:
        SlackChat(web_client(TOKEN, url)).deliver(message(), INCIDENT)
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after_seconds == 7.0


def test_bad_token_is_an_auth_failure(slack: tuple[str, type[SlackApi]]) -> None:
    url, _ = slack
    with pytest.raises(AuthFailed, match="invalid_auth"):
        SlackChat(web_client("xoxb-wrong", url)).deliver(message(), INCIDENT)


def test_unreachable_slack_is_retryable() -> None:
    chat = SlackChat(web_client(TOKEN, "http://127.0.0.1:9/api/", timeout=2))
    with pytest.raises(Unavailable):
        chat.deliver(message(), INCIDENT)


def test_channel_names_follow_slacks_rules() -> None:
    assert channel_name("#incident-20240115-0042") == "incident-20240115-0042"
    assert channel_name("#Incident 42: API!") == "incident-42--api-"
    assert len(channel_name("#" + "x" * 100)) == 80


def test_the_last_message_archives_the_war_room_and_a_retry_is_harmless(
    slack: tuple[str, type[SlackApi]],
) -> None:
    url, api = slack
    chat = SlackChat(web_client(TOKEN, url))
    channel_id = chat.deliver(message("declared"), INCIDENT)["channel_id"]
    last = message("📁 The postmortem is published.", channel_id=channel_id, archive=True)
    facts = chat.deliver(last, INCIDENT)
    (channel,) = api.channels.values()
    assert channel["archived"] is True and facts["archived"] is True
    assert channel["messages"][-1] == "📁 The postmortem is published."
    again = chat.deliver(last, INCIDENT)  # the answer was lost; the outbox tries again
    assert again == {"channel_id": channel_id, "archived": True}
    assert len(channel["messages"]) == 2
    with pytest.raises(Rejected):  # an ordinary message to an archived channel is refused
        chat.deliver(message("late update", channel_id=channel_id), INCIDENT)
