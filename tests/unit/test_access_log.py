"""The access log: uvicorn's line format, written in batches by a thread, and never a login
link's token or the SSO callback's code and state."""

from __future__ import annotations

import asyncio
import io
import select
import time

from hypothesis import given, strategies as st
from starlette.types import Message, Receive, Scope, Send

from so1.config import Settings
from so1.entrypoints.api.access_log import (
    AccessLogMiddleware,
    AccessLogWriter,
    Entry,
    access_line,
    chunks,
    wanted,
)
from so1.entrypoints.web.access_log import LINK, QUERY_SECRET, REDACTED, redacted

CLIENT = ("127.0.0.1", 5)


def entry(path: str, status: int, query: str = "", method: str = "GET") -> Entry:
    return (CLIENT, method, path.encode(), query.encode(), "1.1", status)


def test_a_line_is_the_one_uvicorn_writes() -> None:
    assert access_line(entry("/v1/alerts", 202, method="POST")) == (
        'INFO:     127.0.0.1:5 - "POST /v1/alerts HTTP/1.1" 202 Accepted\n'
    )
    assert access_line((None, "GET", b"/x", b"a=1", "1.0", 599)) == (
        'INFO:      - "GET /x?a=1 HTTP/1.0" 599 \n'
    )
    assert access_line(entry('/q"uote', 404)).endswith('"GET /q%22uote HTTP/1.1" 404 Not Found\n')


def test_the_line_loses_the_token_and_the_sign_on_secrets() -> None:
    token = "Qm9vdHN0cmFwLXRva2VuLXRoYXQtbXVzdC1ub3QtbGVhaw"
    lines = [
        access_line(entry(f"/login/{token}", 303)),
        access_line(entry("/incidents/INC-1", 200)),
        access_line(
            entry("/login/oidc/callback", 303, "code=c0de-SECRET&state=st4te-SECRET&iss=x")
        ),
        access_line(entry("/login/oidc", 303)),
        access_line(entry("/x", 200, "state=open")),
    ]
    assert [line.split(" - ", 1)[1] for line in lines] == [
        '"GET /login/[redacted] HTTP/1.1" 303 See Other\n',
        '"GET /incidents/INC-1 HTTP/1.1" 200 OK\n',
        '"GET /login/oidc/callback?code=[redacted]&state=[redacted]&iss=x HTTP/1.1"'
        " 303 See Other\n",
        '"GET /login/oidc HTTP/1.1" 303 See Other\n',
        '"GET /x?state=[redacted] HTTP/1.1" 200 OK\n',
    ]
    assert "SECRET" not in "".join(lines) and token not in "".join(lines)


def test_the_thread_writes_lines_without_waiting_for_a_stop() -> None:
    stream = io.StringIO()
    writer = AccessLogWriter(stream, every=0.02)
    writer.start()
    writer.record(entry("/a", 200))
    deadline = time.monotonic() + 5
    while "/a" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().count("\n") == 1
    writer.stop()


def test_stop_writes_what_is_left_in_order() -> None:
    stream = io.StringIO()
    writer = AccessLogWriter(stream, every=60)  # the thread would not write in this test
    writer.start()
    for path, status in (("/a", 200), ("/b", 201), ("/c", 500)):
        writer.record(entry(path, status))
    assert stream.getvalue() == ""
    writer.stop()
    paths = [line.split('"')[1].split()[1] for line in stream.getvalue().splitlines()]
    assert paths == ["/a", "/b", "/c"]


def test_the_middleware_records_the_status_the_client_gets() -> None:
    stream = io.StringIO()
    writer = AccessLogWriter(stream)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"teapot"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/alerts",
        "raw_path": b"/v1/alerts",
        "query_string": b"",
        "http_version": "1.1",
        "client": CLIENT,
    }
    asyncio.run(AccessLogMiddleware(app, writer)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    writer.flush()
    assert stream.getvalue() == (
        'INFO:     127.0.0.1:5 - "POST /v1/alerts HTTP/1.1" 418 I\'m a Teapot\n'
    )


def test_it_is_wanted_at_info_and_below_when_enabled() -> None:
    assert wanted(Settings(access_log=True, log_level="info"))
    assert wanted(Settings(access_log=True, log_level="DEBUG"))
    assert not wanted(Settings(access_log=True, log_level="warning"))
    assert not wanted(Settings(access_log=False, log_level="info"))


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_each_write_is_whole_lines_within_pipe_buf() -> None:
    """Processes of a `--workers N` group share stdout: a write of at most PIPE_BUF bytes to
    a pipe is never split, so their lines never mix."""
    stream = Writes()
    writer = AccessLogWriter(stream)
    for n in range(300):
        writer.record(entry(f"/v1/incidents/INC-{n:04d}", 200))
    writer.flush()
    assert len(stream.writes) > 1
    assert all(len(w.encode()) <= select.PIPE_BUF and w.endswith("\n") for w in stream.writes)
    assert stream.getvalue().count("\n") == 300


def test_a_line_longer_than_the_limit_is_written_alone() -> None:
    assert list(chunks(["a" * 10 + "\n", "b" * 50 + "\n", "c\n"], 20)) == [
        "a" * 10 + "\n",
        "b" * 50 + "\n",
        "c\n",
    ]


@given(st.text(alphabet='/?&=#" logincodestatexyz-', max_size=60))
def test_the_quick_check_never_skips_a_line_the_patterns_would_change(line: str) -> None:
    assert redacted(line) == QUERY_SECRET.sub(REDACTED, LINK.sub(REDACTED, line))
