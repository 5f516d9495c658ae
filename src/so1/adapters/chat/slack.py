"""The war room in Slack, through slack-sdk's WebClient.

Facts (shared/reference/integrations.md §5): errors come back as HTTP 200 with
``{"ok": false}``; 429 carries Retry-After; Slack has no idempotency keys, so a retried
``conversations.create`` that meets ``name_taken`` looks the channel up and reuses it.
Retries are the outbox's (persisted, with Retry-After), not the SDK's in-process sleeps.

The first message of an incident creates the channel, sets the topic and invites the people
in the message's ``invite`` list (Slack user ids); the channel id is returned and handed back
with the incident's later messages (``channel_id``). A message with ``archive`` in its payload
(the postmortem is published) is posted, then the channel archived.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from so1.domain.comms import Outbound
from so1.domain.incidents import Incident
from so1.errors import AuthFailed, RateLimited, Rejected, Unavailable

SLACK_API = "https://slack.com/api/"
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "no_permission",
    }
)
HARMLESS_INVITE = frozenset({"already_in_channel", "cant_invite_self"})
TOPIC_LIMIT = 250
NAME_LIMIT = 80


def web_client(token: str, base_url: str = SLACK_API, timeout: int = 10) -> WebClient:
    """The WebClient SlackChat is given (by the composition root): without the SDK's retry
    handlers, since the outbox retries."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class SlackChat:
    def __init__(self, client: WebClient) -> None:
        """``client``: slack-sdk's WebClient, built by the composition root (``web_client``).
        slack-sdk speaks urllib, not httpx: its tests use a local server, not MockTransport."""
        self._client = client

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        try:
            channel_id = message.payload.get("channel_id") or self._open(message, incident)
            if message.payload.get("archive"):
                return self._last_word(channel_id, message.body)
            if message.payload.get("set_topic") and message.payload.get("topic"):
                topic = str(message.payload["topic"])[:TOPIC_LIMIT]  # the severity changed
                self._client.conversations_setTopic(channel=channel_id, topic=topic)
            answer = self._client.chat_postMessage(channel=channel_id, text=message.body)
        except SlackApiError as exc:
            raise _mapped(exc) from exc
        except SlackClientError as exc:  # connection problems and the like
            raise Unavailable(f"Slack unreachable: {exc}") from exc
        except OSError as exc:
            raise Unavailable(f"Slack unreachable: {type(exc).__name__}") from exc
        ts = answer.get("ts")
        return {"channel_id": channel_id, "ts": ts, "ref": slack_ref(channel_id, ts)}

    def _open(self, message: Outbound, incident: Incident) -> str:
        name = channel_name(incident.channel or str(message.payload.get("channel") or incident.id))
        private = bool(message.payload.get("private"))
        try:
            created = self._client.conversations_create(name=name, is_private=private)
            channel_id = str(created["channel"]["id"])
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
            channel_id = self._find(name)  # a retry after a lost answer: reuse it
        topic = str(message.payload.get("topic") or "")[:TOPIC_LIMIT]
        if topic:
            self._client.conversations_setTopic(channel=channel_id, topic=topic)
        users = [u for u in message.payload.get("invite", []) if u]
        if users:
            try:
                self._client.conversations_invite(channel=channel_id, users=",".join(users))
            except SlackApiError as exc:
                if exc.response.get("error") not in HARMLESS_INVITE:
                    raise
        return channel_id

    def _last_word(self, channel_id: str, text: str) -> dict[str, Any]:
        """The retrospective is done: say so, then archive the channel. A retry after a lost
        answer finds the channel archived, and that is success."""
        try:
            answer = self._client.chat_postMessage(channel=channel_id, text=text)
            self._client.conversations_archive(channel=channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("is_archived", "already_archived"):
                raise
            return {"channel_id": channel_id, "archived": True}
        ts = answer.get("ts")
        return {
            "channel_id": channel_id,
            "ts": ts,
            "ref": slack_ref(channel_id, ts),
            "archived": True,
        }

    def _find(self, name: str) -> str:
        cursor = None
        while True:
            page = self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            channels: list[dict[str, Any]] = page.get("channels", [])
            for channel in channels:
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise Rejected(f"Slack says #{name} exists but it is not visible to the bot")


def slack_ref(channel_id: str, ts: Any) -> str:
    """How a posted message is found again when someone reacts to it."""
    return f"slack:{channel_id}:{ts}"


def channel_name(channel: str) -> str:
    """#incident-20240115-0042 → incident-20240115-0042 (Slack: lowercase, at most 80)."""
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    name = "".join(c if c in allowed else "-" for c in channel.lstrip("#").lower())
    return name[:NAME_LIMIT]


def _mapped(exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status == 429 or error == "ratelimited":
        retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
            "retry-after"
        )
        return RateLimited(f"Slack: {error}", float(retry_after) if retry_after else None)
    if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
        return Unavailable(f"Slack: {error}")
    if error in AUTH_ERRORS:
        return AuthFailed(f"Slack refused the token: {error}")
    return Rejected(f"Slack: {error}")
