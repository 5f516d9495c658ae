"""`so1 incident declare | ack | say | messages | runbook | page | role`: the war room from the
terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.domain.records import AgentName
from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, fail, print_json, print_table
from so1.entrypoints.cli.remote import JsonOpt, incident_app

_STATE_STYLE = {"late": "bold red", "done_late": "yellow", "done": "green", "pending": "cyan"}


def declare(
    incident_id: str,
    commander: Annotated[str | None, typer.Option(help="handle; default: from on-call")] = None,
    channel: Annotated[str | None, typer.Option(help="default #incident-YYYYMMDD-XXXX")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the incident-commander: war room, commander, first messages, pages."""
    inputs: dict[str, Any] = {"incident_id": incident_id}
    inputs |= {k: v for k, v in {"commander": commander, "channel": channel}.items() if v}
    run = call("POST", "/v1/orchestrate", json={"agent": AgentName.COMMANDER, "inputs": inputs})
    if as_json:
        print_json(run)
        return
    if run["status"] != "completed":
        fail(f"the incident-commander failed: {run.get('error')}")
    plan = run["output"]
    if plan.get("already_declared"):
        by = f" by {plan['declared_by']}" if plan.get("declared_by") else ""
        console.print(
            f"{incident_id} was already declared at {plan['declared_at']}{by}"
            f" (war room {plan['channel']}): nothing sent again"
        )
        if plan.get("commander_request"):
            console.print(f"  - {plan['commander_request']}")
        return
    console.print(f"war room {plan['channel']}: {plan['topic']}")
    for line in plan["decisions"]:
        console.print(f"  - {line}")
    queued = len(plan["messages"]) + len(plan["pages"])
    console.print(
        f"{queued} message(s) and page(s) queued; see `so1 incident messages {incident_id}`"
    )


def acknowledge(incident_id: str) -> None:
    """Acknowledge the incident (stops the 2-minute clock)."""
    done = call("POST", f"/v1/incidents/{incident_id}/acknowledge", json={"via": "cli"})
    who = f" by {done['acknowledged_by']} via {done['acknowledged_via']}"
    console.print(f"{done['incident_id']} acknowledged at {done['acknowledged_at']}{who}")


def say(incident_id: str, text: Annotated[str, typer.Argument(help="the message")]) -> None:
    """Post to the incident's war room."""
    call("POST", f"/v1/incidents/{incident_id}/messages", json={"text": text})
    console.print("posted")


def messages(
    incident_id: str,
    to: Annotated[str | None, typer.Option(help="war_room, status_page or pager")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What was said and paged for the incident, with delivery state."""
    found = call("GET", f"/v1/incidents/{incident_id}/messages", params={"to": to} if to else None)
    if as_json:
        print_json(found)
        return
    for message in found:
        who = f" → @{message['target']}" if message["target"] else ""
        state = message["status"] + (f" ({message['last_error']})" if message["last_error"] else "")
        console.print(f"[bold]{message['to']}{who}[/] {message['kind']} · {state}", highlight=False)
        console.print(message["text"], highlight=False, markup=False)
        console.print()


def runbook(incident_id: str, as_json: JsonOpt = False) -> None:
    """The runbook checks: done, late, pending, with deadlines and evidence."""
    found = call("GET", f"/v1/incidents/{incident_id}/runbook")
    if as_json:
        print_json(found)
        return
    rows = []
    for check in found["checks"]:
        style = _STATE_STYLE.get(check["state"])
        state = f"[{style}]{check['state']}[/]" if style else check["state"]
        rows.append([check["phase"], check["title"], state, check["due_at"], check["evidence"]])
    title = f"Runbook of {incident_id} ({len(found['late'])} late)"
    columns = ["phase", "check", "state", "due", "evidence"]
    print_table(title, columns, rows, keep=0, optional=["phase", "evidence"])
    escalation = found.get("escalation") or {}
    said = escalation.get("note") or f"policy {escalation.get('policy') or 'none'}"
    console.print(f"escalation: {said}", highlight=False, markup=False)


def page(
    incident_id: str,
    reason: Annotated[str, typer.Option(help="why they are paged (sent with the page)")],
    handle: Annotated[str | None, typer.Option(help="the person to page")] = None,
    team: Annotated[str | None, typer.Option(help="page whoever is on call for this team")] = None,
) -> None:
    """Page a person or a team's on-call into the incident; they become a responder."""
    if (handle is None) == (team is None):
        fail("name --handle or --team (one of them)", code=2)
    body = {"reason": reason} | ({"handle": handle} if handle else {"team": team})
    sent = call("POST", f"/v1/incidents/{incident_id}/participants/page", json=body)
    team_note = f" for {sent['team']}" if sent["team"] else ""
    console.print(f"paged @{sent['handle']}{team_note}; see `so1 incident messages {incident_id}`")


def role(
    incident_id: str,
    handle: Annotated[str, typer.Argument(help="who takes the role")],
    role_name: Annotated[
        str, typer.Argument(metavar="ROLE", help="commander, backup, scribe, comms_lead, responder")
    ],
) -> None:
    """Give a role; commander, backup, scribe and comms lead are handed over from the holder."""
    body = {"handle": handle, "role": role_name}
    current = call("POST", f"/v1/incidents/{incident_id}/participants", json=body)
    holders = ", ".join(f"{p['role']} @{p['handle']}" for p in current)
    console.print(f"{incident_id}: {holders}", highlight=False)


def register(app: typer.Typer) -> None:  # noqa: ARG001 - they join `so1 incident`
    for name, command in (("declare", declare), ("ack", acknowledge), ("say", say),
                          ("messages", messages), ("runbook", runbook), ("page", page),
                          ("role", role)):  # fmt: skip
        incident_app.command(name)(command)
