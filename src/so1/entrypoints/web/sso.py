"""Single sign-on for the web pages (OpenID Connect, when SO1_OIDC_ISSUER is set):
``/login/oidc`` sends the browser to the provider with a fresh state, nonce and PKCE
challenge (the state also goes in a short-lived cookie: the callback must come back to the
browser that started), and ``/login/oidc/callback`` finishes the sign-in as the person. Every
refusal is the sign-in page with the reason (4xx) and an ``auth.failed`` audit record."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from so1.domain.identity import parse_role_map
from so1.entrypoints.api.deps import ContainerDep, client_ip
from so1.entrypoints.web.pages import login_page, with_session_cookie
from so1.errors import SignInRefused, Unavailable
from so1.services.access import sso

router = APIRouter(include_in_schema=False)
STATE_COOKIE = "so1_oidc_state"
CALLBACK = "/login/oidc/callback"


def _callback_url(request: Request) -> str:
    return str(request.url.replace(path=CALLBACK, query="", fragment=""))


@router.get("/login/oidc")
def start(request: Request, container: ContainerDep) -> Response:
    provider = container.adapters.identity
    if provider is None:
        return login_page(request, 404, "Single sign-on is not set up here (SO1_OIDC_ISSUER).")
    try:
        begun = sso.begin(container.uow, container.clock, provider, _callback_url(request))
    except Unavailable as exc:
        return login_page(request, 503, f"The identity provider cannot be reached: {exc.detail}")
    response = RedirectResponse(begun.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        begun.state,
        max_age=int(sso.SIGN_IN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",  # the provider sends the browser back with a top-level GET
        secure=request.url.scheme == "https",
        path="/login/oidc",
    )
    return response


@router.get(CALLBACK)
async def callback(request: Request, container: ContainerDep) -> Response:
    provider = container.adapters.identity
    if provider is None:
        return login_page(request, 404, "Single sign-on is not set up here (SO1_OIDC_ISSUER).")
    settings = container.settings
    policy = sso.SsoPolicy(parse_role_map(settings.oidc_role_map), settings.oidc_auto_create)
    query = request.query_params
    came_back = sso.Callback(
        state=query.get("state", ""),
        code=query.get("code", ""),
        error=query.get("error", ""),
        browser_state=request.cookies.get(STATE_COOKIE, ""),
        redirect_uri=_callback_url(request),
        source_ip=client_ip(request),
    )
    try:
        _, cookie = await run_in_threadpool(
            sso.finish, container.uow, container.clock, provider, policy, came_back
        )
    except SignInRefused as refused:
        page = login_page(request, 401, f"Single sign-on refused: {refused.detail}.")
        page.delete_cookie(STATE_COOKIE, path="/login/oidc")
        return page
    except Unavailable as exc:
        return login_page(request, 503, f"The identity provider cannot be reached: {exc.detail}")
    response = with_session_cookie(RedirectResponse("/", status_code=303), request, cookie)
    response.delete_cookie(STATE_COOKIE, path="/login/oidc")
    return response
