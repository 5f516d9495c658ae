"""The express lane: `POST /v1/alerts` answered by the outermost of SO1's middleware, when
nothing in the request needs the others.

The lean route (lean_intake.py) already skips FastAPI's dependency solving and validation,
but each request still went down and back up the whole middleware stack (access log,
security headers, body cap, Idempotency-Key, exception handling, routing): about a fifth of
the event loop's work per alert under load. This lane takes a request only when every layer
it skips would have let it through unchanged:

- a key the verified-key cache vouches for, with the write scope (checked from the headers,
  before the body is read; any other key, or none, goes the whole way, where it is
  authenticated against the database and refusals are audited);
- no ``Idempotency-Key`` (replay needs the middleware's store);
- a body labelled as JSON (or not labelled), within the body cap;
- a body the lean checks accept (``accepted_alert``).

Any other request is passed on, its body replayed when it was read. What the lane answers
is what the stack would: the same handler work (``lean_intake.accept_alert``), the security
headers (``headers.API_HEADERS``), the access-log entry, and errors through the app's own
exception handlers (problem JSON), an unexpected one left to the outer middleware (500).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from so1.bootstrap import Container
from so1.domain.access import Scope as KeyScope
from so1.entrypoints.api.access_log import AccessLogWriter, entry
from so1.entrypoints.api.alert_checks import accepted_alert, parsed_json
from so1.entrypoints.api.deps import bearer_token
from so1.entrypoints.api.headers import API_HEADERS
from so1.entrypoints.api.lean_intake import ALERTS_PATH, accept_alert, sent_as_json
from so1.entrypoints.api.middleware import replaying
from so1.services.access import keys as access

Handler = Callable[[Request, Exception], Coroutine[Any, Any, Any]]


class ExpressAlerts:
    """Outermost app middleware: the express lane for `POST /v1/alerts` (see the module)."""

    def __init__(self, app: ASGIApp, max_bytes: int, access_log: AccessLogWriter | None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != ALERTS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        container: Container = scope["app"].state.container
        if not self._may_take(container, Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        raw, whole = await _read_capped(receive, self.max_bytes)
        body = accepted_alert(parsed_json(raw) or {}) if whole else None
        if body is None:  # too big, or not what the lean checks take: the whole way
            await self.app(
                scope, _replaying_then(raw, receive) if not whole else replaying(raw), send
            )
            return
        try:
            status, payload = 202, orjson.dumps(await accept_alert(container, raw, body))
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(Request(scope), exc)
            status, payload = response.status_code, response.body
            await self._send(scope, send, status, payload, response.raw_headers)
            return
        await self._send(scope, send, status, payload, [])

    def _may_take(self, container: Container, headers: Headers) -> bool:
        if "idempotency-key" in headers or not sent_as_json(headers):
            return False
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return False
        token = bearer_token(headers.get("authorization"))
        key = access.verified_from_cache(container.edge.key_cache, container.clock, token)
        return key is not None and key.allows(KeyScope.WRITE)

    async def _send(
        self,
        scope: Scope,
        send: Send,
        status: int,
        payload: bytes,
        given: list[tuple[bytes, bytes]],
    ) -> None:
        if given:  # a handler's answer: the security headers it does not set itself
            present = {name.lower() for name, _ in given}
            headers = [*given, *(h for h in API_HEADERS if h[0] not in present)]
        else:
            length = (b"content-length", str(len(payload)).encode())
            headers = [length, (b"content-type", b"application/json"), *API_HEADERS]
        if self.access_log is not None:
            self.access_log.record(entry(scope, status))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _read_capped(receive: Receive, most: int) -> tuple[bytes, bool]:
    """The body, and whether it is whole: reading stops past ``most`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > most:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replaying_then(read: bytes, receive: Receive) -> Receive:
    """What was read, then the rest of the request as it comes."""
    first = True

    async def rest() -> Message:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": read, "more_body": True}
        return await receive()

    return rest


def _handler_for(handlers: dict[Any, Handler], exc: Exception) -> Handler | None:
    """The app's handler for ``exc`` (by its class, nearest first), short of the catch-all
    for ``Exception``, which the outer middleware applies."""
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
