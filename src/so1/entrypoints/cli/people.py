"""`so1 people`: people as accounts on the server named by SO1_API_URL (admin key): list
them with their role and state, add one, disable or enable them, set their role, link them
to their Slack user."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.domain.access import Role
from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, print_json, print_table

people_app = typer.Typer(
    help="People and their accounts on the server (SO1_API_URL; admin key to change them).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Handle = Annotated[str, typer.Argument(help="the person's handle")]
_COLUMNS = ["handle", "name", "role", "state", "email", "team"]


def _state(person: dict[str, Any]) -> str:
    return f"disabled since {person['disabled_at']}" if person.get("disabled_at") else "active"


@people_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every person with their role (blank: not set) and whether they are disabled."""
    found = call("GET", "/v1/people")
    if as_json:
        print_json(found)
        return
    rows = [
        [p["handle"], p["name"], p.get("role"), _state(p), p["email"], p["team"]] for p in found
    ]
    print_table("People", _COLUMNS, rows, keep=1, optional=["team", "email", "name"])


@people_app.command("add")
def add(
    handle: Handle,
    role: Annotated[Role, typer.Option(help="what their keys may do at most")] = Role.VIEWER,
    name: Annotated[str | None, typer.Option(help="their name")] = None,
    email: Annotated[str | None, typer.Option(help="their email")] = None,
    team: Annotated[str | None, typer.Option(help="their team (it must exist)")] = None,
) -> None:
    """Add a person with a role; their keys: `so1 keys create --person HANDLE`."""
    body = {"handle": handle, "role": role.value, "name": name, "email": email, "team": team}
    made = call("POST", "/v1/people", json={k: v for k, v in body.items() if v is not None})
    console.print(f"added {made['handle']} as {made['role']}")


@people_app.command("disable")
def disable(handle: Handle) -> None:
    """Stop every key of theirs and end their web sessions, at once."""
    call("POST", f"/v1/people/{handle}/disable")
    console.print(f"disabled {handle}: their keys are refused and their sessions ended")


@people_app.command("enable")
def enable(handle: Handle) -> None:
    """Let their keys work again (they sign in to the pages again)."""
    call("POST", f"/v1/people/{handle}/enable")
    console.print(f"enabled {handle}")


@people_app.command("role")
def role(
    handle: Handle,
    new_role: Annotated[Role, typer.Argument(help="viewer, responder, deployer, security, admin")],
) -> None:
    """Set a person's role: the most their keys may do, from the next request."""
    made = call("PUT", f"/v1/people/{handle}/role", json={"role": new_role.value})
    console.print(f"{made['handle']} is now {made['role']}")


@people_app.command("link-slack")
def link_slack(
    handle: Handle,
    slack_id: Annotated[
        str | None, typer.Argument(help="Slack user id (U…); left out: look up their email")
    ] = None,
) -> None:
    """Link a person to their Slack user: their /incident commands and 👀 act as them."""
    made = call("PUT", f"/v1/people/{handle}/slack", json={"slack_id": slack_id})
    console.print(f"{made['handle']} is Slack user {made['slack_id']}")


@people_app.command("unlink-slack")
def unlink_slack(handle: Handle) -> None:
    """Their Slack user acts as nobody (until linked again, by an admin or by email)."""
    made = call("DELETE", f"/v1/people/{handle}/slack")
    console.print(f"{made['handle']} is linked to no Slack user")


def register(app: typer.Typer) -> None:
    app.add_typer(people_app, name="people")
