"""The access log of `so1 serve`: one line per request, in uvicorn's own format
(``INFO:     127.0.0.1:5000 - "POST /v1/alerts HTTP/1.1" 202 Accepted``), written in batches.

uvicorn's access log goes through ``logging`` for every request: a record, a copy of it, a
formatter and a write with a flush, all on the event loop. Under heavy intake that was about a
fifth of the server's work per alert (docs/scaling.md, "Intake: the access log"). Here the
request only leaves a tuple in a queue; a thread formats the lines and writes them every
``FLUSH_SECONDS`` (one ``write`` per few dozen lines), and once more when the server stops.
A line appears at most that much later than it would have.

Login links' tokens and the sign-on callback's code and state are redacted (``redacted``).
"""

from __future__ import annotations

import atexit
import http
import select
import sys
import threading
from collections import deque
from collections.abc import Iterator
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from so1.config import Settings
from so1.entrypoints.web.access_log import redacted

FLUSH_SECONDS = 0.1
LEVEL_PREFIX = "INFO:     "  # uvicorn's "INFO:" padded to its column
PHRASES = {status.value: status.phrase for status in http.HTTPStatus}
LEVELS_THAT_LOG = ("trace", "debug", "info")

# client, method, raw path, query string, HTTP version, status
Entry = tuple[tuple[str, int] | None, str, bytes, bytes, str, int]


def wanted(settings: Settings) -> bool:
    """SO1_ACCESS_LOG, at a log level that shows info (uvicorn's rule for its own)."""
    return settings.access_log and settings.log_level.lower() in LEVELS_THAT_LOG


def access_line(entry: Entry) -> str:
    """The line uvicorn's AccessFormatter writes without colours (see module doc)."""
    client, method, raw_path, query, version, status = entry
    path = raw_path.decode("latin1")
    if query:
        path = f"{path}?{query.decode('ascii', 'replace')}"
    client_addr = f"{client[0]}:{client[1]}" if client else ""
    phrase = PHRASES.get(status, "")
    request_line = redacted(f"{method} {path.replace(chr(34), '%22')} HTTP/{version}")
    return f'{LEVEL_PREFIX}{client_addr} - "{request_line}" {status} {phrase}\n'


def chunks(lines: list[str], limit: int) -> Iterator[str]:
    """The lines joined into runs of whole lines of at most ``limit`` bytes (a longer line
    alone)."""
    run: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode())
        if run and size + length > limit:
            yield "".join(run)
            run, size = [], 0
        run.append(line)
        size += length
    if run:
        yield "".join(run)


class AccessLogWriter:
    """The queue of finished requests and the thread that writes them to ``stream``."""

    def __init__(self, stream: TextIO | None = None, every: float = FLUSH_SECONDS) -> None:
        self._stream = stream
        self._every = every
        self._entries: deque[Entry] = deque()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="so1-access-log", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()

    def flush(self) -> None:
        """Write every line recorded so far, in order: whole lines, at most PIPE_BUF bytes a
        write, so that the lines of a `--workers N` group sharing one pipe never mix."""
        with self._flushing:
            lines = []
            while self._entries:
                lines.append(access_line(self._entries.popleft()))
            stream = self._stream or sys.stdout
            for chunk in chunks(lines, select.PIPE_BUF):
                stream.write(chunk)
                stream.flush()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            self.flush()


def entry(scope: Scope, status: int) -> Entry:
    """The access log's entry for a request answered with ``status``."""
    return (
        scope.get("client"),
        scope["method"],
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        scope.get("http_version", "1.1"),
        status,
    )


class AccessLogMiddleware:
    """Records each HTTP response's status with its request (outermost, so it sees the status
    the client gets)."""

    def __init__(self, app: ASGIApp, writer: AccessLogWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = self.writer.record

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(entry(scope, message["status"]))
            await send(message)

        await self.app(scope, receive, logged)
