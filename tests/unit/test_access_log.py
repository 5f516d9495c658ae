"""The one-time login link's token and the SSO callback's code and state never reach the
access log."""

from __future__ import annotations

import logging

from so1.entrypoints.web.access_log import redact_login_links


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_uvicorns_access_line_loses_the_token() -> None:
    logger = logging.getLogger("so1.test.access")
    kept = Kept()
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)
    redact_login_links(logger)
    redact_login_links(logger)  # installed once
    token = "Qm9vdHN0cmFwLXRva2VuLXRoYXQtbXVzdC1ub3QtbGVhaw"
    # uvicorn's own format and arguments (uvicorn.protocols.http.*: access_logger.info)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/login/{token}", "1.1", 303)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/incidents/INC-1", "1.1", 200)
    callback = "/login/oidc/callback?code=c0de-SECRET&state=st4te-SECRET&iss=https%3A%2F%2Fidp"
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", callback, "1.1", 303)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/login/oidc", "1.1", 303)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/x?state=open", "1.1", 200)
    assert kept.lines == [
        '127.0.0.1:5 - "GET /login/[redacted] HTTP/1.1" 303',
        '127.0.0.1:5 - "GET /incidents/INC-1 HTTP/1.1" 200',
        '127.0.0.1:5 - "GET /login/oidc/callback?code=[redacted]&state=[redacted]'
        '&iss=https%3A%2F%2Fidp HTTP/1.1" 303',
        '127.0.0.1:5 - "GET /login/oidc HTTP/1.1" 303',
        '127.0.0.1:5 - "GET /x?state=[redacted] HTTP/1.1" 200',
    ]
    assert "SECRET" not in "".join(kept.lines)
    assert len(logger.filters) == 1
