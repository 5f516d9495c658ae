"""`so1 keys`: API keys on the server named by SO1_API_URL (admin key).

One exception, the bootstrap path: `so1 keys create` without SO1_API_URL writes the key
straight into the database named by SO1_DATABASE_URL, which is how the first key is made
before any key exists to call the API with."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from so1.config import Settings
from so1.domain.access import parse_scopes
from so1.entrypoints.cli.client import api_url_set, call
from so1.entrypoints.cli.local import CLI_ACTOR, open_database, upgrade_if_behind
from so1.entrypoints.cli.output import console, fail, note, plain, print_json, print_table
from so1.errors import ValidationFailed
from so1.services.access import keys as access

keys_app = typer.Typer(
    help="API keys on the server (SO1_API_URL); `create` without it writes to SO1_DATABASE_URL.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
_COLUMNS = ["id", "name", "person", "scopes", "created", "expires", "revoked", "last used"]
_FIELDS = [
    "id",
    "name",
    "person",
    "scopes",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
]


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scopes: Annotated[
        str, typer.Option(help="comma-separated: read,write,deploy,security,admin")
    ] = "read,write",
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="expire after N days")] = None,
    person: Annotated[
        str | None,
        typer.Option(help="the person the key belongs to (a handle): the two-person rule"),
    ] = None,
) -> None:
    """Create a key; the key itself is printed once, alone on the last line."""
    try:
        wanted = parse_scopes([s.strip() for s in scopes.split(",") if s.strip()])
    except ValueError as exc:
        fail(str(exc), code=2)
    if api_url_set(Settings()):
        body: dict[str, Any] = {"name": name, "scopes": sorted(wanted)}
        if expires_in_days:
            body["expires_in_days"] = expires_in_days
        if person:
            body["person"] = person
        made = call("POST", "/v1/keys", json=body)
        key_id, token = made["id"], made["token"]
    else:
        note("SO1_API_URL is not set: creating the key in the database directly")
        container = open_database("keys create", create=True)
        upgrade_if_behind(container)
        now = container.clock.now()
        expires = now + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            issued = access.create_key(
                container.uow, container.clock, CLI_ACTOR, name, wanted, expires, person=person
            )
        except ValidationFailed as exc:  # a person who is nobody in the directory
            fail(exc.detail)
        finally:
            container.close()
        key_id, token = issued.key.id, issued.token
    shown = ",".join(sorted(wanted))
    console.print(f"created key {key_id} '{name}' with scopes {shown}; store it now:")
    typer.echo(token)


@keys_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List keys (never their secrets)."""
    found = call("GET", "/v1/keys")
    rows = [[k[f] for f in _FIELDS] for k in found]
    for row in rows:
        row[3] = ",".join(row[3])
    if as_json:
        print_json([dict(zip(_FIELDS, row, strict=True)) for row in rows])
        return
    for row in rows:
        row[2] = row[2] or "(service key)"
    print_table(
        "API keys",
        _COLUMNS,
        rows,
        keep=2,
        optional=["person", "revoked", "expires", "created", "last used"],
    )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (not the secret)")]) -> None:
    """Revoke a key at once."""
    call("POST", f"/v1/keys/{key_id}/revoke")
    console.print(f"revoked key {key_id}")


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="the key's id (not the secret)")],
    grace_seconds: Annotated[
        int | None,
        typer.Option(
            min=0, help="old key keeps working this long [SO1_KEY_ROTATION_GRACE_SECONDS]"
        ),
    ] = None,
) -> None:
    """Issue a replacement key; the old one keeps working for the grace period."""
    body = {"grace_seconds": grace_seconds} if grace_seconds is not None else {}
    made = call("POST", f"/v1/keys/{key_id}/rotate", json=body)
    until = plain(made["old_key_expires_at"]) or "its own expiry"
    console.print(f"new key {made['id']} replaces {key_id}, which works until {until}:")
    typer.echo(made["token"])


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
