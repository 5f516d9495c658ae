"""Slack slash command `/incident` (POST /v1/slack/commands), signed with Slack's v0 scheme.

`/incident create SEV2 "API error rate spike" [service]` declares an incident and runs the
incident-commander; in the war room: `status`, `severity SEV1 "why"`, `handover @handle`,
`update "text"`, `resolve "summary"` (the id may be left out there); anything else gets the
usage. Slack wants an answer within 3 s: declaring takes milliseconds, so it answers inline.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from slack_sdk.signature import Clock as SlackClock, SignatureVerifier
from starlette.concurrency import run_in_threadpool

from so1.adapters.chat.slack import slack_ref
from so1.agents.commander.comms import commander_named
from so1.agents.commander.contract import CommanderRequest
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.incidents import AckChannel, IncidentStatus, is_incident_id
from so1.domain.oncall import Person
from so1.domain.participants import Role
from so1.domain.severity import Severity
from so1.entrypoints.api.deps import ContainerDep
from so1.errors import MalformedRequest, So1Error, Unauthorized
from so1.services.access.chat_identity import person_for_slack_user, refuse_chat_user
from so1.services.declaration.flow import commander_request
from so1.services.declaration.outbox import message_by_ref, post_to_war_room
from so1.services.declaration.status_drafts import publish_draft
from so1.services.incidents import lifecycle as incidents
from so1.services.incidents.acknowledgement import acknowledge_incident
from so1.services.incidents.participants import assign_role
from so1.services.incidents.recording import Actor
from so1.services.mitigation.runs import decide_approval

router = APIRouter(tags=["slack"])
ACK_REACTIONS = frozenset({"eyes"})  # 👀, as in the runbook's Phase 1
_ROOM = re.compile(r"^incident-(\d{8})-(\d{4,})$")
USAGE = (
    "Usage (in a war room the incident id may be left out):\n"
    '• `/incident create SEV0-4 "what is wrong" [service]` declares it and opens the war room\n'
    "• `/incident status INC-YYYYMMDD-NNNN` shows where it stands\n"
    '• `/incident severity INC-... SEV1 "why"` changes the severity\n'
    "• `/incident handover INC-... @handle` hands the commander role over\n"
    '• `/incident update INC-... "what changed"` posts an update to the war room\n'
    '• `/incident resolve INC-... "how it was fixed"` resolves it\n'
    '• `/incident publish INC-... ["public text"]` publishes its status-page draft\n'
    "• `/incident approve run_...` / `/incident decline run_...` decides a platform action"
    " waiting for approval"
)


class _Clock(SlackClock):
    """slack-sdk's verifier asks its clock for Unix seconds: use SO1's (tests move it)."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def now(self) -> float:
        return float(self._container.clock.now().timestamp())


def verify(container: Container, body: bytes, timestamp: str | None, signature: str | None) -> None:
    secret = container.settings.slack_signing_secret
    if secret is None:
        raise Unauthorized("Slack is not configured here (SO1_SLACK_SIGNING_SECRET is unset)")
    verifier = SignatureVerifier(secret.get_secret_value(), clock=_Clock(container))
    try:
        valid = verifier.is_valid(body, timestamp, signature)
    except ValueError:  # a timestamp that is not a number
        valid = False
    if not valid:
        raise Unauthorized("bad or stale Slack signature")


@router.post("/v1/slack/commands")
async def slash_command(request: Request, container: ContainerDep) -> JSONResponse:
    body = await request.body()
    headers = request.headers
    verify(
        container, body, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
    )
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    try:
        words = shlex.split(form.get("text", ""))
    except ValueError:
        words = []
    room = _war_room_incident(form.get("channel_name", ""))
    verb = words[0].lower() if words else "help"
    person = await run_in_threadpool(_person, container, form.get("user_id", ""))
    if person is None or person.disabled:
        attempted = {"command": verb, "channel": form.get("channel_name")}
        text = await run_in_threadpool(
            refuse_chat_user,
            container.uow,
            container.clock,
            form.get("user_id", ""),
            person,
            attempted,
        )
        return JSONResponse({"response_type": "ephemeral", "text": text})
    refusal = _role_refusal(person, verb)
    if refusal is not None:
        return JSONResponse({"response_type": "ephemeral", "text": refusal})
    answer = await run_in_threadpool(_run, container, _person_actor(person), words, room)
    return JSONResponse(answer)


READ_ONLY_VERBS = frozenset({"status", "help"})


def _role_refusal(person: Person, verb: str) -> str | None:
    """Why a linked person's role may not run ``verb`` from Slack: a role without `write`
    (a viewer may still ask for the status)."""
    scopes = person.role.scopes if person.role else None
    if scopes is None or Scope.WRITE in scopes or verb in READ_ONLY_VERBS:
        return None
    return f"Your SO1 role ({person.role}) does not let you change incidents from Slack."


def _person(container: Container, user_id: str) -> Person | None:
    directory = container.adapters.chat_directory
    return person_for_slack_user(container.uow, container.clock, directory, user_id)


def _person_actor(person: Person) -> Actor:
    """The person as an actor: platform approvals only with a role that deploys."""
    scopes = person.role.scopes if person.role else None
    can_deploy = scopes is None or Scope.DEPLOY in scopes
    return Actor(name=person.handle, can_deploy=can_deploy, person=person.handle)


@router.post("/v1/slack/events")
async def events(request: Request, container: ContainerDep) -> JSONResponse:
    """Slack Events API: the URL check, and 👀 (`eyes`) added to a message SO1 posted for an
    incident acknowledges that incident (runbook Phase 1) as the person who reacted. Slack
    retries (X-Slack-Retry-Num) are harmless: acknowledging twice keeps the first time."""
    body = await request.body()
    headers = request.headers
    verify(
        container, body, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
    )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest("the Slack event is not JSON") from exc
    if not isinstance(document, dict):
        raise MalformedRequest("the Slack event is not a JSON object")
    if document.get("type") == "url_verification":
        return JSONResponse({"challenge": document.get("challenge")})
    event = document.get("event") or {}
    acked = None
    if isinstance(event, dict) and event.get("type") == "reaction_added":
        acked = await run_in_threadpool(_reaction, container, event)
    return JSONResponse({"ok": True, "acknowledged": acked})


def _reaction(container: Container, event: dict[str, Any]) -> str | None:
    item = event.get("item") or {}
    if event.get("reaction") not in ACK_REACTIONS or not isinstance(item, dict):
        return None
    message = message_by_ref(container.uow, slack_ref(str(item.get("channel")), item.get("ts")))
    if message is None:
        return None
    user = str(event.get("user") or "")
    person = _person(container, user)
    if person is None or person.disabled:  # an unknown or disabled person acknowledges nothing
        attempted = {"reaction": event.get("reaction"), "incident": message.incident_id}
        text = refuse_chat_user(container.uow, container.clock, user, person, attempted)
        if container.adapters.chat_directory is not None and user:
            container.adapters.chat_directory.tell(str(item.get("channel")), user, text)
        return None
    actor = _person_actor(person)
    incident_id = message.incident_id
    acknowledge_incident(container.uow, container.clock, actor, incident_id, AckChannel.SLACK)
    return message.incident_id


def _decide(approve: bool) -> Callable[[Container, Actor, list[str]], dict[str, str] | None]:
    def handler(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
        run_id = next((a for a in args if a.startswith("run_")), None)
        if run_id is None:
            return None
        if not actor.can_deploy:
            return {
                "response_type": "ephemeral",
                "text": "Approvals from Slack need a role that deploys"
                " (deployer, security or admin).",
            }
        run = decide_approval(
            container.uow, container.clock, actor, container.deployer, run_id, approve
        )
        word = "approved: it runs now" if approve else "declined"
        return _said(
            f"{run.inputs.get('action')} of {run.inputs.get('service')} {word}"
            f" (@{actor.name}, {run_id})"
        )

    return handler


def _run(container: Container, actor: Actor, words: list[str], room: str) -> dict[str, str]:
    """Dispatch `/incident VERB ...`; in a war room the incident id may be left out."""
    verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
    if verb != "create" and (not args or not is_incident_id(args[0])) and room:
        args = [room, *args]
    # Clearance for a security incident comes from being in its (private) war room.
    actor = replace(actor, security_cleared=bool(room) and bool(args) and args[0] == room)
    handler = _COMMANDS.get(verb)
    try:
        if handler is not None and (answer := handler(container, actor, args)) is not None:
            return answer
    except So1Error as exc:
        return {"response_type": "ephemeral", "text": f"Could not do that: {exc.detail}"}
    return {"response_type": "ephemeral", "text": USAGE}


def _war_room_incident(channel_name: str) -> str:
    """incident-20240115-0042 (the war room's Slack name) → INC-20240115-0042."""
    match = _ROOM.match(channel_name)
    return f"INC-{match.group(1)}-{match.group(2)}" if match else ""


def _severity(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) not in (2, 3) or not is_incident_id(args[0]):
        return None
    severity = Severity(args[1].upper()) if args[1].upper() in Severity.__members__ else None
    if severity is None:
        return None
    reason = args[2] if len(args) == 3 else None  # required: the service refuses without
    patch = incidents.IncidentPatch(severity=severity, severity_reason=reason)
    incident = incidents.update_incident(container.uow, container.clock, actor, args[0], patch)
    return _said(f"{incident.id} is now {incident.severity}: {reason}")


def _resolve(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) != 2 or not is_incident_id(args[0]):
        return None
    patch = incidents.IncidentPatch(
        status=IncidentStatus.RESOLVED, resolution_summary=args[1][:2000]
    )
    incident = incidents.update_incident(container.uow, container.clock, actor, args[0], patch)
    return _said(f"{incident.id} resolved: {args[1]}")


def _handover(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) != 2 or not is_incident_id(args[0]):
        return None
    handle = args[1].lstrip("@")
    assign_role(container.uow, container.clock, actor, args[0], handle, Role.COMMANDER)
    return _said(f"@{handle} is now the commander of {args[0]}")


def _update(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) != 2 or not is_incident_id(args[0]):
        return None
    post_to_war_room(container.uow, container.clock, actor, args[0], f"Update: {args[1]}")
    return _said(f"update recorded on {args[0]}")


def _publish(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    """The oldest status-page draft of the incident goes public (with the final text if
    given); SO1_STATUS_PAGE_APPROVAL=draft holds SEV0-1 notices until someone does this."""
    if len(args) not in (1, 2) or not is_incident_id(args[0]):
        return None
    text = args[1] if len(args) == 2 else None
    notice = publish_draft(container.uow, container.clock, actor, args[0], text=text)
    title = notice.payload.get("title") or "the notice"
    return _said(f"{args[0]}: status-page notice published ({title})")


def _said(text: str) -> dict[str, str]:
    return {"response_type": "in_channel", "text": text}


def _create(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) not in (2, 3):
        return None
    try:
        severity = Severity(args[0].upper())
    except ValueError:
        return {"response_type": "ephemeral", "text": f"Unknown severity '{args[0]}'.\n{USAGE}"}
    new = incidents.NewIncident(
        title=args[1][:300], severity=severity, service=args[2] if len(args) > 2 else None
    )
    incident = incidents.create_incident(container.uow, container.clock, actor, new)
    agent = container.agents.commander
    text = f"{incident.id} declared: {severity} {incident.title}"
    if agent is not None:
        request = CommanderRequest(incident.id)
        run = commander_request(container.uow, container.clock, actor, agent, request)
        if run.output:
            named = commander_named(run.output["commander"])
            text += f". War room {run.output['channel']}, {named}"
    return {"response_type": "in_channel", "text": text}


def _status(container: Container, actor: Actor, args: list[str]) -> dict[str, str] | None:
    if len(args) != 1 or not is_incident_id(args[0]):
        return None
    incident = incidents.get_incident(container.uow, args[0], actor)
    commander = f", commander @{incident.commander}" if incident.commander else ""
    text = f"{incident.id} ({incident.severity}, {incident.status}): {incident.title}{commander}"
    return {"response_type": "ephemeral", "text": text}


_COMMANDS: dict[str, Callable[[Container, Actor, list[str]], dict[str, str] | None]] = {
    "create": _create,
    "status": _status,
    "severity": _severity,
    "handover": _handover,
    "update": _update,
    "resolve": _resolve,
    "publish": _publish,
    "approve": _decide(approve=True),
    "decline": _decide(approve=False),
}
