"""Who a Slack user is, through slack-sdk's WebClient: ``users.info`` gives a user's email
(``user.profile.email``, only with the ``users:read.email`` scope) and ``users.lookupByEmail``
the user with an email (``users_not_found`` when there is none); ``chat.postEphemeral`` tells
one user something only they see (the bot must be in the channel: SO1 made the war rooms).
Slack answers errors as HTTP 200 with ``{"ok": false, "error": ...}``, which the SDK raises
as SlackApiError.

Any failure (no such user, a missing scope, Slack unreachable) answers None: the caller
then treats the user as not linked, and says how to link them; the reason is logged."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)
NOT_FOUND = frozenset({"user_not_found", "users_not_found"})


class SlackDirectory:
    def __init__(self, client: WebClient) -> None:
        """``client``: slack-sdk's WebClient (``slack.web_client``), with a short timeout:
        a slash command has 3 s to answer."""
        self._client = client

    def email_of(self, user_id: str) -> str | None:
        try:
            answer = self._client.users_info(user=user_id)
        except (SlackApiError, SlackClientError, OSError) as exc:
            _log_failure("users.info", exc)
            return None
        user = answer.get("user") or {}
        email = (user.get("profile") or {}).get("email")
        if user.get("deleted") or user.get("is_bot") or not isinstance(email, str):
            return None
        return email or None

    def user_by_email(self, email: str) -> str | None:
        try:
            answer = self._client.users_lookupByEmail(email=email)
        except (SlackApiError, SlackClientError, OSError) as exc:
            _log_failure("users.lookupByEmail", exc)
            return None
        user_id = (answer.get("user") or {}).get("id")
        return str(user_id) if user_id else None

    def tell(self, channel: str, user_id: str, text: str) -> bool:
        try:
            self._client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        except (SlackApiError, SlackClientError, OSError) as exc:
            _log_failure("chat.postEphemeral", exc)
            return False
        return True


def _log_failure(method: str, exc: Exception) -> None:
    error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
    if error in NOT_FOUND:
        return
    hint = " (the Slack app needs the users:read.email scope)" if error == "missing_scope" else ""
    log.warning("Slack %s failed: %s%s", method, error, hint)
