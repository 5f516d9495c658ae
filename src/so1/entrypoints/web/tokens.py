"""Your API tokens (/me/tokens): a signed-in person makes personal keys for the CLI and
scripts, sees their keys and revokes them. A key made here belongs to the person and carries
their role's scopes (services/access/personal_keys.py); its token is shown once, on the page
that answers the form. Each form carries the session's CSRF token."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from so1.bootstrap import Container
from so1.domain.oncall import Person
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.api.problems import status_of
from so1.entrypoints.web.pages import _check_csrf, _form, _page, signed_in
from so1.errors import Forbidden, So1Error, ValidationFailed
from so1.services.access import personal_keys
from so1.services.access.web_sessions import Session

router = APIRouter(include_in_schema=False)
MAX_DAYS = 365


def _person(container: Container, session: Session) -> Person:
    """The session's person: signed in with SSO, or with a key that names them."""
    if session.person is not None:
        return session.person
    handle = session.key.person if session.key else None
    with container.uow(read_only=True) as uow:
        person = uow.oncall.person(handle) if handle else None
    if person is None:
        raise Forbidden("personal tokens are for people: this session's key names no person")
    return person


def _tokens_page(
    request: Request, container: Container, session: Session, status: int = 200, **extra: object
) -> Response:
    person = _person(container, session)
    mine = personal_keys.personal_keys(container.uow, person)
    return _page(request, "tokens.html", status, session=session, person=person, keys=mine, **extra)


@router.get("/me/tokens")
def tokens_page(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return _tokens_page(request, container, session)


@router.post("/me/tokens")
async def create_token(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    form = await _form(request)
    _check_csrf(session, form)
    try:
        person = _person(container, session)
        expires = _expiry(container, form.get("days", ""))
        issued = await run_in_threadpool(
            personal_keys.create_personal_key,
            container.uow,
            container.clock,
            session.actor,
            person,
            form.get("name", ""),
            expires,
        )
    except So1Error as exc:
        return _refused(request, session, exc)
    return _tokens_page(request, container, session, 201, issued=issued)


@router.post("/me/tokens/revoke")
async def revoke_token(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    form = await _form(request)
    _check_csrf(session, form)
    key_id = form.get("key_id", "")
    try:
        person = _person(container, session)
        await run_in_threadpool(
            personal_keys.revoke_personal_key,
            container.uow,
            container.clock,
            session.actor,
            person,
            key_id,
        )
    except So1Error as exc:
        return _refused(request, session, exc)
    container.edge.key_cache.forget(key_id)
    return RedirectResponse("/me/tokens", status_code=303)


def _expiry(container: Container, days: str) -> datetime | None:
    if not days.strip():
        return None
    if not days.strip().isdigit() or not 1 <= int(days) <= MAX_DAYS:
        raise ValidationFailed(f"days: a whole number from 1 to {MAX_DAYS}", field="days")
    return container.clock.now() + timedelta(days=int(days))


def _refused(request: Request, session: Session, exc: So1Error) -> Response:
    status = 422 if isinstance(exc, ValidationFailed) else status_of(exc)
    return _page(request, "error.html", status, session=session, message=exc.detail)
