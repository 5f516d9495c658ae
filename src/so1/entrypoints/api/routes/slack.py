"""Slack slash command `/incident` (POST /v1/slack/commands), signed with Slack's v0 scheme.

`/incident create SEV2 "API error rate spike" [service]` declares an incident and runs the
incident-commander; `/incident status INC-...` answers with its state; anything else gets the
usage. Slack wants an answer within 3 s: declaring takes milliseconds, so it answers inline.
"""

from __future__ import annotations

import shlex
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from slack_sdk.signature import Clock as SlackClock, SignatureVerifier
from starlette.concurrency import run_in_threadpool

from so1.bootstrap import Container
from so1.domain.incidents import is_incident_id
from so1.domain.severity import Severity
from so1.entrypoints.api.deps import ContainerDep
from so1.errors import So1Error, Unauthorized
from so1.services import incidents
from so1.services.commander_flow import COMMANDER_AGENT, commander_request
from so1.services.context import Actor

router = APIRouter(tags=["slack"])
USAGE = (
    "Usage:\n"
    '• `/incident create SEV0-4 "what is wrong" [service]` declares it and opens the war room\n'
    "• `/incident status INC-YYYYMMDD-NNNN` shows where it stands"
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
    actor = Actor(name=f"slack:{form.get('user_name') or form.get('user_id') or 'unknown'}")
    try:
        words = shlex.split(form.get("text", ""))
    except ValueError:
        words = []
    answer = await run_in_threadpool(_run, container, actor, words)
    container.wake_worker()
    return JSONResponse(answer)


def _run(container: Container, actor: Actor, words: list[str]) -> dict[str, str]:
    try:
        if len(words) in (3, 4) and words[0].lower() == "create":
            return _create(container, actor, words[1:])
        if len(words) == 2 and words[0].lower() == "status" and is_incident_id(words[1]):
            return _status(container, words[1])
    except So1Error as exc:
        return {"response_type": "ephemeral", "text": f"Could not do that: {exc.detail}"}
    return {"response_type": "ephemeral", "text": USAGE}


def _create(container: Container, actor: Actor, args: list[str]) -> dict[str, str]:
    try:
        severity = Severity(args[0].upper())
    except ValueError:
        return {"response_type": "ephemeral", "text": f"Unknown severity '{args[0]}'.\n{USAGE}"}
    new = incidents.NewIncident(
        title=args[1][:300], severity=severity, service=args[2] if len(args) > 2 else None
    )
    incident = incidents.create_incident(container.uow, container.clock, actor, new)
    agent = container.agents.get(COMMANDER_AGENT)
    text = f"{incident.id} declared: {severity} {incident.title}"
    if agent is not None:
        run = commander_request(
            container.uow, container.clock, actor, agent, {"incident_id": incident.id}
        )
        if run.output:
            text += f". War room {run.output['channel']}, commander @{run.output['commander']}"
    return {"response_type": "in_channel", "text": text}


def _status(container: Container, incident_id: str) -> dict[str, str]:
    incident = incidents.get_incident(container.uow, incident_id)
    commander = f", commander @{incident.commander}" if incident.commander else ""
    text = f"{incident.id} ({incident.severity}, {incident.status}): {incident.title}{commander}"
    return {"response_type": "ephemeral", "text": text}
