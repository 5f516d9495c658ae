"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from so1 import __version__
from so1.bootstrap import Container, build_container
from so1.entrypoints.api import lean_intake, problems
from so1.entrypoints.api.access_log import AccessLogMiddleware, AccessLogWriter, wanted
from so1.entrypoints.api.express import ExpressAlerts
from so1.entrypoints.api.headers import SecurityHeadersMiddleware
from so1.entrypoints.api.middleware import BodyLimitMiddleware, IdempotencyMiddleware
from so1.entrypoints.api.routes import (
    action_items,
    alerts,
    analytics,
    changes,
    comms,
    database,
    incidents,
    intake_admin,
    integrations,
    investigation,
    keys,
    metrics,
    ofrep,
    oncall,
    participants,
    people,
    playbooks,
    postmortems,
    runtime,
    security,
    slack,
    status_notices,
    system,
    webhooks,
)
from so1.entrypoints.heap import freeze_startup_heap
from so1.entrypoints.web import (
    alert_pages,
    forms,
    incident_forms,
    lists,
    live,
    pages,
    people as people_page,
    sso as sso_pages,
    status as status_page,
    tokens as token_pages,
)

DESCRIPTION = """SO1 runs a production incident from the first alert to the published postmortem.

Every `/v1` call except `/v1/health` needs `Authorization: Bearer <API key>`
(`so1 keys create --name NAME`). Errors are RFC 9457 problem JSON.
"""


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    container: Container | None = None,
    *,
    triage_child: bool = False,
    triage_wake: str | None = None,
    served: bool = False,
) -> FastAPI:
    """The API and pages on ``container``. ``triage_child``: triage in a supervised child
    process when SO1_TRIAGE_PROCESS is on (`so1 serve`; tests drive their own threads);
    ``triage_wake``: in the triage process of a `so1 serve --workers N` group, woken there;
    ``served``: the app of a `so1 serve` process, which writes one line per request on stdout
    when SO1_ACCESS_LOG and SO1_LOG_LEVEL ask for it (see ``access_log``) and freezes its
    start-up heap once started (see ``so1.entrypoints.heap``)."""
    container = container or build_container()
    access = AccessLogWriter() if served and wanted(container.settings) else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        child = triage_child and container.settings.triage_process
        container.start_background(triage_child=child, triage_wake=triage_wake)
        if access is not None:
            access.start()
        if served:
            freeze_startup_heap()
        yield
        container.stop_background()
        if access is not None:
            access.stop()

    # Swagger UI and ReDoc from the fastapi-offline package, so /docs works without a network.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="SO1 Incident Response",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/docs-assets",
        swagger_ui_parameters={"validatorUrl": None},
        # SO1 sets up no OpenTelemetry; FastAPI's own would look for providers per request.
        telemetry=NO_TELEMETRY,
    )
    app.state.container = container
    problems.install(app, page_error=pages.error_page)
    # Intake first: routing tries routes in order, and alerts are the busiest path by far.
    for module in (
        alerts,
        webhooks,
        system,
        runtime,
        incidents,
        investigation,
        database,
        security,
        playbooks,
        postmortems,
        action_items,
        analytics,
        participants,
        changes,
        metrics,
        ofrep,
        intake_admin,
        integrations,
        keys,
        people,
        oncall,
        comms,
        status_notices,
        slack,
        status_page,
        sso_pages,  # before pages: /login/oidc is not a login link's /login/{token}
        pages,
        live,
        forms,
        lists,
        alert_pages,
        incident_forms,
        people_page,
        token_pages,
    ):
        app.include_router(module.router)
    lean_intake.install(app)  # before every FastAPI route: intake skips FastAPI's machinery
    # Outermost first: the body cap runs before idempotency buffers anything.
    app.add_middleware(
        IdempotencyMiddleware, store=container.edge.idempotency, clock=container.clock
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # every answer gets them
    if access is not None:  # outermost: the status the client gets
        app.add_middleware(AccessLogMiddleware, writer=access)
    # Outside them all: the busiest request, when none of them would change it (express.py).
    app.add_middleware(
        ExpressAlerts, max_bytes=container.settings.max_body_bytes, access_log=access
    )
    return app


def create_default_app() -> FastAPI:
    """Factory for `uvicorn --factory` (one per worker process): `so1 serve`'s app."""
    return create_app(triage_child=True, served=True)
