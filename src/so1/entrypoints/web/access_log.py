"""No secret in the access log: uvicorn logs each request's path with its query. A one-time
login link carries its token in the path (``/login/<token>``), and the single sign-on
callback its authorization ``code`` and ``state`` in the query
(``/login/oidc/callback?code=...&state=...``). A filter on uvicorn's access logger replaces
them before any handler sees the line."""

from __future__ import annotations

import logging
import re

# /login/<token>, not the sign-on routes under /login/oidc
LINK = re.compile(r"(/login/)(?!oidc(?:[/?#\s\"]|$))[^/?#\s\"]+")
QUERY_SECRET = re.compile(r"([?&](?:code|state)=)[^&#\s\"]*")
REDACTED = r"\1[redacted]"


def redacted(line: str) -> str:
    return QUERY_SECRET.sub(REDACTED, LINK.sub(REDACTED, line))


class RedactLoginLinks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        return True


def redact_login_links(logger: logging.Logger) -> None:
    """Install the filter once (each app a server builds calls this)."""
    if not any(isinstance(f, RedactLoginLinks) for f in logger.filters):
        logger.addFilter(RedactLoginLinks())
