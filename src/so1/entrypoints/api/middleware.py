"""ASGI middleware: request body cap (413) and Idempotency-Key replay for POSTs."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from so1.entrypoints.api.problems import problem, so1_error_response
from so1.errors import So1Error
from so1.ports import Clock, IdempotencyStore, StoredResponse

log = logging.getLogger("so1.api")

_NOT_REPLAYED = {401, 403, 429}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes) -> Receive:
    """A receive channel that gives ``body`` once (a request read before it is passed on)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


_FORM = "application/x-www-form-urlencoded"


def _as_json_when_sent_as_form(scope: Scope, body: bytes) -> Scope:
    """`curl -d '{...}'` (as in the runbook) labels JSON as a form: treat it as JSON."""
    content_type = Headers(scope=scope).get("content-type", "")
    if content_type.split(";")[0].strip() not in ("", _FORM) or body.lstrip()[:1] not in (
        b"{",
        b"[",
    ):
        return scope
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    return {**scope, "headers": headers}


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether or not Content-Length is sent;
    reads JSON sent with a form (or no) content type as JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_big(self) -> ASGIApp:
        # Built only when needed: this middleware sits on every POST's hot path.
        return problem(413, f"request body exceeds {self.max_bytes} bytes", "Payload too large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_big()(scope, receive, send)
            return
        body = await _read_body(receive, self.max_bytes)
        if body is None:
            await self._too_big()(scope, receive, send)
            return
        await self.app(_as_json_when_sent_as_form(scope, body), replaying(body), send)


class IdempotencyMiddleware:
    """A POST with ``Idempotency-Key`` runs once per key and caller; retries get the stored
    response (header ``Idempotent-Replayed: true``); the same key with another body is 422."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore, clock: Clock) -> None:
        self.app = app
        self.store = store
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255:
            await problem(400, "Idempotency-Key must be 1 to 255 characters")(scope, receive, send)
            return
        body = await _read_body(receive, 1 << 30) or b""
        principal = hashlib.sha256(headers.get("authorization", "").encode()).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([scope["method"].encode(), scope["path"].encode(), body])
        ).hexdigest()
        try:
            await self._handle(scope, send, body, principal, key, fingerprint)
        except So1Error as exc:
            await so1_error_response(exc)(scope, replaying(b""), send)

    async def _handle(
        self, scope: Scope, send: Send, body: bytes, principal: str, key: str, fingerprint: str
    ) -> None:
        existing = await run_in_threadpool(
            self.store.claim, principal, key, fingerprint, self.clock.now()
        )
        if existing is not None:
            await self._answer_repeat(scope, send, principal, key, existing == fingerprint)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replaying(body), capture)
        finally:
            await self._settle(principal, key, captured)

    async def _settle(self, principal: str, key: str, captured: dict[str, Any]) -> None:
        """Keep the answer for replays, or release the key of a request that failed. The
        client has its answer already: a database outage here only shortens what is kept."""
        status = captured["status"]
        if status >= 500 or status in _NOT_REPLAYED:
            await run_in_threadpool(self.store.release, principal, key)
            return
        content_type = Headers(raw=captured["headers"]).get("content-type", "")
        stored = StoredResponse(status, captured["body"], content_type)
        try:
            await run_in_threadpool(self.store.complete, principal, key, stored)
        except So1Error as exc:
            log.warning("could not keep the answer for Idempotency-Key replays: %s", exc.detail)

    async def _answer_repeat(
        self, scope: Scope, send: Send, principal: str, key: str, same_request: bool
    ) -> None:
        receive = replaying(b"")
        if not same_request:
            detail = "this Idempotency-Key was used with a different request body or path"
            await problem(422, detail, "Idempotency key reused")(scope, receive, send)
            return
        stored = await run_in_threadpool(self.store.stored, principal, key)
        if stored is None:
            detail = "a request with this Idempotency-Key is still being processed; retry later"
            await problem(409, detail, "Request in progress")(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": stored.status_code,
                "headers": [
                    (b"content-type", stored.content_type.encode()),
                    (b"content-length", str(len(stored.body)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": stored.body})
