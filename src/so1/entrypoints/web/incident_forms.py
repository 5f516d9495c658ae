"""The incident page's people forms: give a role (commander, backup, scribe, comms lead,
responder; single-holder roles are handed over) and page a person or a team's on-call."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.participants import Role
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.web.forms import Action, _act
from so1.errors import ValidationFailed
from so1.services.declaration.paging import PageRequest, page_responder
from so1.services.incidents.participants import assign_role
from so1.services.incidents.recording import Actor

router = APIRouter(include_in_schema=False)


def _role(incident_id: str) -> Action:
    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        handle = form.get("handle", "").strip()
        if not handle:
            raise ValidationFailed("choose who takes the role", field="handle")
        try:
            role = Role(form.get("role", ""))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValidationFailed(f"the role is one of {known}", field="role") from None
        assign_role(container.uow, container.clock, actor, incident_id, handle, role)
        return f"/incidents/{incident_id}#people"

    return run


@router.post("/incidents/{incident_id}/roles")
async def give_role(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _role(incident_id))


def _page_someone(incident_id: str) -> Action:
    """The form's one select names a person (``person:HANDLE``) or a team (``team:NAME``)."""

    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        kind, _, name = form.get("who", "").partition(":")
        if kind not in ("person", "team") or not name:
            raise ValidationFailed("choose a person or a team to page", field="who")
        reason = form.get("reason", "")
        ask = (
            PageRequest(reason, name, None) if kind == "person" else PageRequest(reason, None, name)
        )
        page_responder(container.uow, container.clock, actor, incident_id, ask)
        return f"/incidents/{incident_id}#people"

    return run


@router.post("/incidents/{incident_id}/page")
async def page_someone(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _page_someone(incident_id))
