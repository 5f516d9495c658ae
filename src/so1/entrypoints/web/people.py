"""The people page (admins): every person with their role and state, and the forms to add a
person, set a role, disable and enable. Each form carries the session's CSRF token and needs
the ``admin`` scope; what the page shows comes from the same services as /v1/people."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from so1.bootstrap import Container
from so1.domain.access import Role, Scope
from so1.domain.oncall import Person
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.forms import _act
from so1.entrypoints.web.pages import _page, signed_in
from so1.errors import Forbidden, ValidationFailed
from so1.services.access import accounts
from so1.services.declaration import oncall
from so1.services.incidents.recording import Actor

router = APIRouter(include_in_schema=False)


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, container: ContainerDep) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    if not session.may(Scope.ADMIN):
        raise Forbidden("the people page needs a key with the 'admin' scope")
    people = oncall.list_people(container.uow)
    return _page(request, "people.html", session=session, people=people, roles=list(Role))


def _role(form: dict[str, str]) -> Role:
    name = form.get("role", "")
    if name not in {r.value for r in Role}:
        known = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"unknown role '{name}'; known: {known}", field="role")
    return Role(name)


def _add(container: Container, actor: Actor, form: dict[str, str]) -> str:
    handle = form.get("handle", "").strip()
    if not accounts.HANDLE.fullmatch(handle):
        raise ValidationFailed(
            "a handle is letters, digits, '.', '_' or '-' (up to 100)", field="handle"
        )
    person = Person(
        handle,
        name=form.get("name", "").strip()[:200] or None,
        email=form.get("email", "").strip()[:320] or None,
        role=_role(form),
    )
    accounts.add_person(container.uow, container.clock, actor, person)
    return "/people"


def _disable(container: Container, actor: Actor, form: dict[str, str]) -> str:
    accounts.disable_person(container.uow, container.clock, actor, form.get("handle", ""))
    container.edge.key_cache.clear()  # their keys may be cached: refused from now on
    return "/people"


def _enable(container: Container, actor: Actor, form: dict[str, str]) -> str:
    accounts.enable_person(container.uow, container.clock, actor, form.get("handle", ""))
    container.edge.key_cache.clear()
    return "/people"


def _set_role(container: Container, actor: Actor, form: dict[str, str]) -> str:
    handle = form.get("handle", "")
    accounts.set_role(container.uow, container.clock, actor, handle, _role(form))
    container.edge.key_cache.clear()
    return "/people"


@router.post("/people")
async def add(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.ADMIN, _add)


@router.post("/people/disable")
async def disable(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.ADMIN, _disable)


@router.post("/people/enable")
async def enable(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.ADMIN, _enable)


@router.post("/people/role")
async def set_role(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.ADMIN, _set_role)
