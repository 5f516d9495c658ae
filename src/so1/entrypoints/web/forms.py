"""The pages' forms that change things: declare an incident, acknowledge it, change its
status or severity, run a configuration change or restart through the railway-deployer, and
the postmortem's review (submit, checks, publish). Each needs a signed-in session, its CSRF
token and the key's scope; SO1's usual refusals come back as the error page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from so1.agents.commander.contract import CommanderRequest
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.incidents import AckChannel, IncidentStatus
from so1.domain.severity import Severity
from so1.entrypoints.api.agent_inputs import deployer_request_of
from so1.entrypoints.api.deps import ContainerDep
from so1.entrypoints.api.problems import status_of
from so1.entrypoints.web.pages import _check_csrf, _form, _page, signed_in
from so1.errors import Forbidden, So1Error, ValidationFailed
from so1.services.declaration import status_drafts
from so1.services.declaration.flow import commander_request
from so1.services.incidents.acknowledgement import acknowledge_incident
from so1.services.incidents.lifecycle import (
    IncidentPatch,
    NewIncident,
    create_incident,
    update_incident,
)
from so1.services.incidents.recording import Actor
from so1.services.mitigation.runs import deployer_request
from so1.services.postmortem import review

router = APIRouter(include_in_schema=False)

Action = Callable[[Container, Actor, dict[str, str]], str]  # returns where to go next


async def _act(request: Request, container: Container, scope: Scope, action: Action) -> Response:
    session = signed_in(container, request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    form = await _form(request)
    _check_csrf(session, form)
    if not session.may(scope):
        raise Forbidden(f"this needs a key with the '{scope}' scope")
    try:
        where = await run_in_threadpool(action, container, session.actor, form)
    except So1Error as exc:
        status = 422 if isinstance(exc, ValidationFailed) else status_of(exc)
        return _page(request, "error.html", status, session=session, message=exc.detail)
    return RedirectResponse(where, status_code=303)


def _declare(container: Container, actor: Actor, form: dict[str, str]) -> str:
    title = form.get("title", "").strip()
    if not title:
        raise ValidationFailed("an incident needs a title", field="title")
    new = NewIncident(
        title[:300],
        Severity(form.get("severity", "SEV2")),
        IncidentStatus.INVESTIGATING,
        service=form.get("service") or None,
    )
    incident = create_incident(container.uow, container.clock, actor, new)
    agent = container.agents.commander
    if agent is not None:  # war room, commander, first messages, pages
        request = CommanderRequest(incident.id)
        commander_request(container.uow, container.clock, actor, agent, request)
    return f"/incidents/{incident.id}"


@router.post("/incidents")
async def declare(request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _declare)


def _acknowledge(incident_id: str) -> Action:
    """The Acknowledge button: the signed-in person acknowledges (declaring does not)."""

    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:  # noqa: ARG001
        acknowledge_incident(container.uow, container.clock, actor, incident_id, AckChannel.WEB)
        return f"/incidents/{incident_id}"

    return run


@router.post("/incidents/{incident_id}/acknowledge")
async def acknowledge(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _acknowledge(incident_id))


def _change(incident_id: str) -> Action:
    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        status = IncidentStatus(form["status"]) if form.get("status") else None
        severity = Severity(form["severity"]) if form.get("severity") else None
        patch = IncidentPatch(
            status=status,
            severity=severity,
            severity_reason=form.get("reason") or None,
            resolution_summary=form.get("resolution") or None,
        )
        update_incident(container.uow, container.clock, actor, incident_id, patch)
        return f"/incidents/{incident_id}"

    return run


@router.post("/incidents/{incident_id}/change")
async def change(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _change(incident_id))


def _platform(incident_id: str) -> Action:
    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        inputs: dict[str, Any] = {
            "action": form.get("action"),
            "service": form.get("service"),
            "incident_id": incident_id,
        }
        if form.get("action") == "set_variables":
            name, _, value = form.get("variable", "").partition("=")
            inputs["variables"] = {name.strip(): value.strip()}
        if form.get("action") in ("flag_disable", "flag_enable"):
            inputs["flag"] = form.get("flag")
        request = deployer_request_of(inputs)
        deployer_request(container.uow, container.clock, actor, container.deployer, request)
        return f"/incidents/{incident_id}#mitigations"

    return run


def _status_page(incident_id: str) -> Action:
    """Save a status-page draft's text, or publish it (the draft named by the form)."""

    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        raw_id = form.get("draft_id", "")
        if not raw_id.isdigit() or len(raw_id) > 9:
            raise ValidationFailed("the form names no status-page draft", field="draft_id")
        change = (
            status_drafts.publish_draft
            if form.get("action") == "publish"
            else status_drafts.edit_draft
        )
        title = form.get("title", "").strip() or None
        clock = container.clock
        change(container.uow, clock, actor, incident_id, int(raw_id), form.get("text"), title)
        return f"/incidents/{incident_id}#status-page"

    return run


@router.post("/incidents/{incident_id}/status-page")
async def status_page(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.WRITE, _status_page(incident_id))


@router.post("/incidents/{incident_id}/platform")
async def platform(incident_id: str, request: Request, container: ContainerDep) -> Response:
    return await _act(request, container, Scope.DEPLOY, _platform(incident_id))


def _review(incident_id: str, step: str) -> Action:
    def run(container: Container, actor: Actor, form: dict[str, str]) -> str:
        uow, clock = container.uow, container.clock
        if step == "edit":
            review.edit(uow, clock, actor, incident_id, form.get("markdown", ""), form.get("note"))
        elif step == "submit":
            review.submit(uow, clock, actor, incident_id)
        elif step == "publish":
            write = review.file_writer(container.adapters.postmortems)
            settings = container.settings
            archive = settings.war_room_archive == "on_publish"
            needed = settings.postmortem_reviewers
            review.publish(uow, clock, actor, incident_id, write, archive, needed)
        else:
            review.tick(uow, clock, actor, incident_id, step)
        return f"/incidents/{incident_id}/postmortem"

    return run


@router.post("/incidents/{incident_id}/postmortem/{step}")
async def postmortem_step(
    incident_id: str, step: str, request: Request, container: ContainerDep
) -> Response:
    return await _act(request, container, Scope.WRITE, _review(incident_id, step))
