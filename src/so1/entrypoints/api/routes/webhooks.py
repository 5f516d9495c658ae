"""Vendor intake: signed webhooks (PagerDuty, Datadog, Sentry, Alertmanager) and the
PagerDuty Events API v2 (`/v2/enqueue`), answered exactly as PagerDuty answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from so1.adapters.sources.base import InboundRequest, SourceAdapter
from so1.adapters.sources.pagerduty_events import InvalidEvent, parse_change_enqueue, parse_enqueue
from so1.bootstrap import Container
from so1.domain.alerts import AlertSource, ParsedDelivery
from so1.domain.changes import Deployment
from so1.domain.intake import Delivery, DeliveryOutcome, Integration
from so1.entrypoints.api.deps import ContainerDep, client_ip
from so1.entrypoints.api.storing import store
from so1.errors import So1Error
from so1.services.incidents.recording import Actor
from so1.services.intake import deliveries as intake, integrations
from so1.services.mitigation import changes

router = APIRouter(tags=["intake"])


class _Routed(Protocol):
    @property
    def routing_key(self) -> str: ...


T = TypeVar("T", bound=_Routed)

# Headers worth keeping with a delivery; credentials and signatures are never stored.
_KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-webhook-id",
    "x-webhook-subscription",
    "sentry-hook-resource",
    "sentry-hook-timestamp",
    "request-id",
)
_PD_INVALID = {"status": "invalid event", "message": "Event object is invalid"}
_PD_THROTTLED = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}


def _inbound(request: Request, body: bytes, container: Container) -> InboundRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return InboundRequest(headers=headers, body=body, received_at=container.clock.now())


def _kept(inbound: InboundRequest) -> dict[str, str]:
    return {k: v for k, v in inbound.headers.items() if k in _KEPT_HEADERS}


async def _receive(
    container: Container,
    source: AlertSource,
    inbound: InboundRequest,
    parsed: ParsedDelivery,
    integration: Integration,
) -> intake.IngestResult:
    delivery = Delivery(
        source,
        inbound.received_at,
        _kept(inbound),
        inbound.body,
        DeliveryOutcome.ACCEPTED,
        integration.id,
    )
    return await store(container, delivery, parsed)


@router.post("/v1/webhooks/{source}", status_code=202)
async def webhook(source: AlertSource, request: Request, container: ContainerDep) -> JSONResponse:
    """A vendor's own payload and signature; 202 once stored, processing follows."""
    return await receive_webhook(source, request, container)


async def receive_webhook(
    source: AlertSource, request: Request, container: Container
) -> JSONResponse:
    """The webhook route's work, shared by the FastAPI route and the lean one."""
    adapter: SourceAdapter | None = container.intake.sources.get(source)
    if adapter is None:
        return JSONResponse({"detail": f"no webhook for '{source}'"}, status_code=404)
    inbound = _inbound(request, await request.body(), container)
    ip = client_ip(request)
    integration = await run_in_threadpool(
        integrations.authenticate_source,
        container.uow,
        container.clock,
        source,
        adapter,
        inbound,
        ip,
        container.edge.integration_cache,
    )
    try:
        parsed = adapter.parse(inbound)
    except So1Error as exc:
        await run_in_threadpool(
            integrations.audit_refusal,
            container.uow,
            inbound.received_at,
            source,
            "webhook.invalid",
            exc.detail,
            ip,
        )
        raise
    result = await _receive(container, source, inbound, parsed, integration)
    body: dict[str, Any] = {
        "status": "duplicate" if result.duplicate_delivery else "accepted",
        "events": len(parsed.events),
        "alerts": [
            {
                "alert_id": r.alert.id if r.alert else None,
                "dedup_key": r.event.dedup_key,
                "outcome": r.outcome,
            }
            for r in result.results
        ],
    }
    if parsed.ignored_reason:
        body["ignored"] = parsed.ignored_reason
    return JSONResponse(body, status_code=202)


async def _refuse(container: Container, action: str, reason: str, ip: str | None) -> None:
    await run_in_threadpool(
        integrations.audit_refusal,
        container.uow,
        container.clock.now(),
        "events",
        action,
        reason,
        ip,
    )


class _Refused(Exception):
    """An Events v2 request answered before any work, with PagerDuty's own body."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__("refused")
        self.response = response


async def _events_sender(
    request: Request, container: Container, parse: Callable[[bytes], T]
) -> tuple[bytes, T, Integration]:
    """Parse, identify the routing key and apply its rate limit, or raise _Refused."""
    raw = await request.body()
    ip = client_ip(request)
    try:
        parsed = parse(raw)
    except InvalidEvent as exc:
        await _refuse(container, "enqueue.invalid", exc.detail, ip)
        raise _Refused(
            JSONResponse({**_PD_INVALID, "errors": exc.errors}, status_code=400)
        ) from exc
    integration = await run_in_threadpool(
        integrations.integration_owning,
        container.uow,
        container.clock,
        AlertSource.EVENTS,
        parsed.routing_key,
        container.edge.integration_cache,
    )
    if integration is None:
        await _refuse(container, "enqueue.refused", "unknown routing_key", ip)
        body = {**_PD_INVALID, "errors": ["Invalid routing key"]}
        raise _Refused(JSONResponse(body, status_code=400))
    if not container.intake.limiter.allow(integration.id):
        raise _Refused(JSONResponse(_PD_THROTTLED, status_code=429))
    return raw, parsed, integration


@router.post("/v2/enqueue", status_code=202, tags=["intake"])
async def enqueue(request: Request, container: ContainerDep) -> JSONResponse:
    """PagerDuty Events API v2, byte-compatible: tools that page PagerDuty can send here."""
    try:
        raw, parsed, integration = await _events_sender(request, container, parse_enqueue)
    except _Refused as refused:
        return refused.response
    inbound = _inbound(request, raw, container)
    await _receive(
        container, AlertSource.EVENTS, inbound, ParsedDelivery([parsed.event]), integration
    )
    body = {"status": "success", "message": "Event processed", "dedup_key": parsed.event.dedup_key}
    return JSONResponse(body, status_code=202)


@router.post("/v2/change/enqueue", status_code=202, tags=["intake"])
async def change_enqueue(request: Request, container: ContainerDep) -> JSONResponse:
    """PagerDuty change events: kept as deployment records for triage context; never alerts."""
    try:
        _, change, integration = await _events_sender(request, container, parse_change_enqueue)
    except _Refused as refused:
        return refused.response
    details = change.custom_details if isinstance(change.custom_details, dict) else {}
    deployment = Deployment(
        service=str(details.get("service") or change.source or "unknown")[:100],
        version=str(details.get("version") or details.get("build_num") or "change")[:100],
        deployed_at=min(change.timestamp or container.clock.now(), container.clock.now()),
        platform="pagerduty-change",
        notes=change.summary,
        config={"custom_details": details},
    )
    actor = Actor(name=f"integration:{integration.name}")
    await run_in_threadpool(
        changes.record_deployment, container.uow, container.clock, actor, deployment
    )
    return JSONResponse({"status": "success", "message": "Change event processed"}, status_code=202)
