"""The signed-in web pages: sign-in (API key or one-time link), the dashboard and the
incident page with its war room. Session cookie: signed, HttpOnly, SameSite=Lax (Secure over
HTTPS), naming a session row that signing out revokes; every form carries the session's CSRF
token, and the sign-in form its own (a cookie set with the form: login CSRF)."""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from so1.domain.access import Scope
from so1.entrypoints.api.agent_inputs import deployer_request_of
from so1.entrypoints.api.deps import ContainerDep, client_ip
from so1.entrypoints.api.problems import status_of
from so1.errors import Forbidden, So1Error, Unauthorized
from so1.services.access import web_sessions as sessions
from so1.services.declaration.outbox import post_to_war_room
from so1.services.investigation.gather import recommended
from so1.services.mitigation.runs import decide_approval, deployer_request
from so1.services.orchestration import get_run
from so1.services.postmortem.review import REVIEW_CHECKS
from so1.services.postmortem.reviewers import author_of, ticked_by
from so1.services.views import IncidentPage, charts, dashboard, incident_page

router = APIRouter(include_in_schema=False)
# CommonMark with raw HTML off: a postmortem's text can never inject markup into the page.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
# War-room messages: chat-style, a line break is a line break.
CHAT_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
API_PATH = re.compile(
    r"\b(?:GET|POST|PUT|PATCH|DELETE) /v1/(incidents|alerts)/([A-Za-z0-9_-]+)[^\s`)]*"
)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def chat_html(text: str) -> Markup:
    """A war-room message as HTML: its markdown rendered (raw HTML off), and the API paths it
    names (``GET /v1/incidents/INC-…/runbook``) linked to the page that shows the same."""
    linked = API_PATH.sub(lambda m: f"[{m.group(0)}](/{m.group(1)}/{m.group(2)})", text)
    return Markup(CHAT_MARKDOWN.render(linked))  # noqa: S704 - raw HTML is off


templates.env.filters["chat"] = chat_html
COOKIE = "so1_session"
LOGIN_COOKIE = "so1_login"  # the sign-in form's CSRF token (double submit)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def signed_in(container: ContainerDep, request: Request) -> sessions.Session | None:
    return sessions.from_cookie(container.uow, container.clock, request.cookies.get(COOKIE))


def with_session_cookie(response: Response, request: Request, value: str) -> Response:
    response.set_cookie(
        COOKIE,
        value,
        max_age=sessions.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("status_code", status)
    return templates.TemplateResponse(request, name, context, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """What a browser sees for an address with no page (404) or a wrong method (405)."""
    container = request.app.state.container
    session = signed_in(container, request)
    return _page(request, "error.html", status, session=session, message=message)


def login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    """The sign-in page: the "Sign in with SSO" button when SO1_OIDC_ISSUER is set, the API
    key form (with a fresh CSRF token, also set as a short-lived cookie) unless
    SO1_LOGIN_WITH_KEYS=false."""
    settings = request.app.state.container.settings
    token = secrets.token_urlsafe(24)
    page = _page(
        request,
        "login.html",
        status,
        error=error,
        csrf=token,
        sso=bool(settings.oidc_issuer),
        with_keys=settings.login_with_keys,
    )
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return page


_KEYS_OFF = "Signing in with an API key or a login link is turned off here; use single sign-on."


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return login_page(request)


@router.post("/login")
async def login(request: Request, container: ContainerDep) -> Response:
    if not container.settings.login_with_keys:
        return login_page(request, 403, _KEYS_OFF)
    form = await _form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
        error = "The sign-in form expired or came from another site; please sign in again."
        return login_page(request, 403, error)
    try:
        _, cookie = await run_in_threadpool(
            sessions.start_with_key,
            container.uow,
            container.clock,
            form.get("api_key", "").strip(),
            client_ip(request),
        )
    except Unauthorized:
        return login_page(request, 401, "That API key was not accepted.")
    except Forbidden as exc:
        return login_page(request, 403, f"That API key cannot sign in: {exc.detail}.")
    response = with_session_cookie(RedirectResponse("/", status_code=303), request, cookie)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.get("/login/{token}")
def login_link(token: str, request: Request, container: ContainerDep) -> Response:
    if not container.settings.login_with_keys:
        return login_page(request, 403, _KEYS_OFF)
    try:
        _, cookie = sessions.start_with_link(container.uow, container.clock, token)
    except (Unauthorized, Forbidden) as exc:
        return login_page(request, status_of(exc), exc.detail)
    return with_session_cookie(RedirectResponse("/", status_code=303), request, cookie)


@router.post("/logout")
async def logout(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is not None:
        _check_csrf(session, await _form(request))
        await run_in_threadpool(sessions.end, container.uow, container.clock, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _check_csrf(session: sessions.Session, form: dict[str, str]) -> None:
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise Forbidden("the form's CSRF token does not match this session; reload the page")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    found = dashboard(container.uow, container.clock, session.actor)
    return _page(
        request, "dashboard.html", session=session, can_write=session.may(Scope.WRITE), **found
    )


def _load(
    incident_id: str, request: Request, container: ContainerDep
) -> tuple[sessions.Session, IncidentPage] | Response:
    """The signed-in session and the incident's page data, or the response to give instead
    (sign in first; not found; not cleared)."""
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    try:
        default = container.settings.default_escalation_policy
        found = incident_page(container.uow, container.clock, session.actor, incident_id, default)
        return session, found
    except So1Error as exc:
        return _page(request, "error.html", status_of(exc), session=session, message=exc.detail)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(incident_id: str, request: Request, container: ContainerDep) -> Response:
    loaded = _load(incident_id, request, container)
    if isinstance(loaded, Response):
        return loaded
    session, found = loaded
    graphs = charts(container.uow, container.clock, container.adapters.metrics, found.incident)
    hypotheses = list((found.triage or {}).get("hypotheses") or [])
    return _page(
        request,
        "incident.html",
        session=session,
        page=found,
        charts=graphs,
        recommended=recommended(hypotheses, found.incident.severity),
        now=container.clock.now(),
        can_write=session.may(Scope.WRITE),
        can_deploy=session.may(Scope.DEPLOY),
    )


@router.post("/incidents/{incident_id}/messages")
async def say(incident_id: str, request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    form = await _form(request)
    _check_csrf(session, form)
    if not session.may(Scope.WRITE):
        raise Forbidden("posting to the war room needs a key with the 'write' scope")
    text = form.get("text", "").strip()
    if text:
        await run_in_threadpool(
            post_to_war_room,
            container.uow,
            container.clock,
            session.actor,
            incident_id,
            text[:4000],
        )
    return RedirectResponse(f"/incidents/{incident_id}#war-room", status_code=303)


@router.post("/incidents/{incident_id}/runs/{run_id}/{decision}")
async def decide(
    incident_id: str, run_id: str, decision: str, request: Request, container: ContainerDep
) -> Response:
    """Approve or decline a platform action waiting for a human, or run its undo."""
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    _check_csrf(session, await _form(request))
    if decision not in ("approve", "decline", "undo"):
        raise Forbidden(f"'{decision}' is not something to do with a run")
    actor = session.actor
    if decision == "undo":
        run = await run_in_threadpool(get_run, container.uow, run_id, actor)
        undo = ((run.output or {}).get("plan") or {}).get("undo")
        if not undo:
            raise Forbidden("this action has no undo")
        inputs = dict(undo) | {"service": run.inputs.get("service"), "incident_id": incident_id}
        undo_request = deployer_request_of(inputs)
        await run_in_threadpool(
            deployer_request,
            container.uow,
            container.clock,
            actor,
            container.deployer,
            undo_request,
        )
    else:
        await run_in_threadpool(
            decide_approval,
            container.uow,
            container.clock,
            actor,
            container.deployer,
            run_id,
            decision == "approve",
        )
    return RedirectResponse(f"/incidents/{incident_id}#mitigations", status_code=303)


@router.get("/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem_page(incident_id: str, request: Request, container: ContainerDep) -> Response:
    loaded = _load(incident_id, request, container)
    if isinstance(loaded, Response):
        return loaded
    session, found = loaded
    if found.postmortem is None:
        return _page(
            request,
            "error.html",
            404,
            session=session,
            message=f"{incident_id} has no postmortem yet",
        )
    return _page(
        request,
        "postmortem.html",
        session=session,
        page=found,
        postmortem=found.postmortem,
        rendered=Markup(MARKDOWN.render(found.postmortem.markdown)),  # noqa: S704 - html off
        checks=REVIEW_CHECKS,
        ticked={key: ticked_by(found.postmortem, key) for key in REVIEW_CHECKS},
        author=author_of(found.postmortem),
        reviewers_needed=container.settings.postmortem_reviewers,
        can_write=session.may(Scope.WRITE),
    )
