"""No secret in the access log: it shows each request's path with its query. A one-time
login link carries its token in the path (``/login/<token>``), and the single sign-on
callback its authorization ``code`` and ``state`` in the query
(``/login/oidc/callback?code=...&state=...``). ``redacted`` replaces them before a line is
written (entrypoints/api/access_log.py)."""

from __future__ import annotations

import re

# /login/<token>, not the sign-on routes under /login/oidc
LINK = re.compile(r"(/login/)(?!oidc(?:[/?#\s\"]|$))[^/?#\s\"]+")
QUERY_SECRET = re.compile(r"([?&](?:code|state)=)[^&#\s\"]*")
REDACTED = r"\1[redacted]"


def redacted(line: str) -> str:
    if "/login/" not in line and "code=" not in line and "state=" not in line:
        return line  # neither pattern can match: the usual line costs no regex
    return QUERY_SECRET.sub(REDACTED, LINK.sub(REDACTED, line))
