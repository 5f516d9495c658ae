"""No token in the access log: uvicorn logs each request's path, and a one-time login link
carries its token in the path (``/login/<token>``). A filter on uvicorn's access logger
replaces the token before any handler sees the line."""

from __future__ import annotations

import logging
import re

LINK = re.compile(r"(/login/)[^/?#\s\"]+")
REDACTED = r"\1[redacted]"


class RedactLoginLinks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                LINK.sub(REDACTED, a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = LINK.sub(REDACTED, record.msg)
        return True


def redact_login_links(logger: logging.Logger) -> None:
    """Install the filter once (each app a server builds calls this)."""
    if not any(isinstance(f, RedactLoginLinks) for f in logger.filters):
        logger.addFilter(RedactLoginLinks())
