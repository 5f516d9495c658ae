"""The lean intake routes: `POST /v1/alerts`, `/v1/webhooks/{source}`, `/v2/enqueue` and
`/v2/change/enqueue` answered by Starlette routes placed before every FastAPI route, so the
busiest requests skip FastAPI's dependency solving and Pydantic validation.

They still pass through the same middleware (security headers, the body cap, Idempotency-Key
replay) and the same exception handlers (problem JSON), authenticate with the same verified-key
cache and scopes (the vendor webhooks: the same integration secrets and signatures), and hand
the delivery to the same group-commit writer: stored before the 202.

`POST /v1/alerts` reads the body with orjson and the checks in ``alert_checks``. A body those
checks do not accept goes on to the FastAPI route it replaces (still declared, so the OpenAPI
document is unchanged), whose answer to bad input is the one it always gave.
The webhook and Events v2 routes were never validated by FastAPI (only the webhook's path):
they call the same handlers directly.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from so1.bootstrap import Container
from so1.domain.access import Scope as KeyScope
from so1.domain.alerts import AlertSource, ParsedDelivery
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.entrypoints.api.alert_checks import CheckedAlert, accepted_alert, parsed_json
from so1.entrypoints.api.deps import authorize, bearer_token
from so1.entrypoints.api.middleware import replaying
from so1.entrypoints.api.routes import alerts, webhooks
from so1.entrypoints.api.storing import store

ALERTS_PATH = "/v1/alerts"
WEBHOOKS_PATH = "/v1/webhooks/{source}"
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def sent_as_json(headers: Headers) -> bool:
    """Only JSON labelled plainly (or not at all) takes the lean path; FastAPI reads any
    other label its own way."""
    content_type = headers.get("content-type")
    return content_type is None or content_type.split(";")[0].strip() == "application/json"


async def send_json(send: Send, status: int, payload: dict[str, object]) -> None:
    """The bytes Starlette's JSONResponse sends (compact, UTF-8), encoded by orjson."""
    body = orjson.dumps(payload)
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def accept_alert(container: Container, raw: bytes, body: CheckedAlert) -> dict[str, object]:
    """Store an alert the lean checks accepted (durable before this returns); the 202's body."""
    event = alerts.alert_event(body)
    delivery = Delivery(
        AlertSource.EVENTS, container.clock.now(), {}, raw, DeliveryOutcome.ACCEPTED
    )
    result = await store(container, delivery, ParsedDelivery(events=[event]))
    return alerts.accepted(event, result)


_DECLINED = "so1.lean_declined"


class LeanRoute(Route):
    """A route that steps aside for a request it has handed on (see ``LeanAlerts``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get(_DECLINED):
            return Match.NONE, {}
        return super().matches(scope)


class LeanAlerts:
    """`POST /v1/alerts` as a raw ASGI app. A request it declines is routed again by
    ``router`` past the lean routes, so the FastAPI route it replaces answers it."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        headers = Headers(scope=scope)
        document = parsed_json(raw) if sent_as_json(headers) else None
        if document is None:  # not JSON: FastAPI answers 400/422 before any authentication
            await self._fall_back(scope, raw, send)
            return
        container: Container = scope["app"].state.container
        client = scope.get("client")
        action = f"{scope['method']} {scope['path']}"
        token = bearer_token(headers.get("authorization"))
        await authorize(container, token, client[0] if client else None, KeyScope.WRITE, action)
        body = accepted_alert(document)
        if body is None:
            await self._fall_back(scope, raw, send)
            return
        await send_json(send, 202, await accept_alert(container, raw, body))

    async def _fall_back(self, scope: Scope, raw: bytes, send: Send) -> None:
        await self.router.app({**scope, _DECLINED: True}, replaying(raw), send)


class LeanWebhooks:
    """`POST /v1/webhooks/{source}` as a raw ASGI app: the FastAPI route's own work
    (``webhooks.receive_webhook``: signature, raw delivery stored before the 202, redelivery
    dedup, refusals audited) without FastAPI's dependency solving. A path that names no
    source is routed on to the FastAPI route, whose 422 it always gave."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            source = AlertSource(scope["path_params"]["source"])
        except ValueError:
            await self.router.app({**scope, _DECLINED: True}, receive, send)
            return
        request = Request(scope, receive)
        response = await webhooks.receive_webhook(source, request, scope["app"].state.container)
        await response(scope, receive, send)


Handler = Callable[[Request, Container], Coroutine[Any, Any, Response]]


def _direct(handler: Handler) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """A FastAPI handler that takes (request, container) served by Starlette directly."""

    async def endpoint(request: Request) -> Response:
        return await handler(request, request.app.state.container)

    endpoint.__name__ = f"lean_{handler.__name__}"
    return endpoint


def lean_routes(app: FastAPI) -> list[BaseRoute]:
    """The lean routes, built over the FastAPI routes already included in ``app``."""
    return [
        LeanRoute(
            ALERTS_PATH,
            LeanAlerts(app.router),
            methods=["POST"],
            include_in_schema=False,
        ),
        LeanRoute(
            WEBHOOKS_PATH,
            LeanWebhooks(app.router),
            methods=["POST"],
            include_in_schema=False,
        ),
        LeanRoute(
            "/v2/enqueue", _direct(webhooks.enqueue), methods=["POST"], include_in_schema=False
        ),
        LeanRoute(
            "/v2/change/enqueue",
            _direct(webhooks.change_enqueue),
            methods=["POST"],
            include_in_schema=False,
        ),
    ]


def install(app: FastAPI) -> None:
    """Put the lean routes first: routing tries routes in order. The FastAPI routes stay
    declared for the OpenAPI document (and as the fallback for bodies the checks decline)."""
    app.router.routes[0:0] = lean_routes(app)
