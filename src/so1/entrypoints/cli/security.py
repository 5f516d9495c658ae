"""`so1 security`: the security-breach playbook's one command to rotate everything (on the
server named by SO1_API_URL, with an admin key), and the key that seals stored secrets."""

from __future__ import annotations

from typing import Annotated

import typer

from so1.adapters.db.secret_box import new_key
from so1.entrypoints.cli.client import ApiClient
from so1.entrypoints.cli.local import CLI_ACTOR, open_database, upgrade_if_behind
from so1.entrypoints.cli.output import console, fail, print_json
from so1.errors import So1Error
from so1.services.intake.integrations import reseal_secrets

security_app = typer.Typer(
    help="Security-breach playbook, and the key that seals stored secrets.", no_args_is_help=True
)


@security_app.command("rotate")
def rotate(
    yes: Annotated[bool, typer.Option("--yes", help="really: every old key stops now")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Replace every API key and integration secret at once; the old ones stop working now.
    The new ones are printed once: hand them out and update each sender."""
    if not yes:
        fail("this revokes every API key and integration secret now; add --yes to go ahead")
    client = ApiClient.from_settings()
    try:
        done = client.request("POST", "/v1/security/rotate")
    finally:
        client.close()
    if as_json:
        print_json(done)
        return
    keys, integrations = done["keys"], done["integrations"]
    console.print(
        f"Rotated {len(keys)} API keys and {len(integrations)} integration secrets on"
        f" {client.base_url}. The old ones no longer work. Shown only this once:"
    )
    for key in keys:
        console.print(f"key {key['name']} ({key['id']}; {', '.join(key['scopes'])}):")
        typer.echo(f"  {key['token']}")
    for integration in integrations:
        console.print(
            f"{integration['source']} integration {integration['name']} ({integration['id']}):"
        )
        typer.echo(f"  {integration['secret']}")
    mine = _replacement_of_mine(client.key_id, keys)
    if mine is not None:
        console.print("This CLI's own key was replaced too; use the new one:")
        typer.echo(f"  export SO1_API_KEY={mine}")


def _replacement_of_mine(key_id: str | None, keys: list[dict[str, str]]) -> str | None:
    """The new token of the key this CLI called with (the answer says whose key each new one
    replaces through ``replaces``)."""
    return next((k["token"] for k in keys if key_id and k.get("replaces") == key_id), None)


@security_app.command("new-key")
def new_key_command() -> None:
    """Print a new key for SO1_SECRET_KEY (Fernet: 32 random bytes, url-safe base64). Keep it
    with the database's backups' keys, not beside them."""
    typer.echo(new_key())


@security_app.command("seal-secrets")
def seal_secrets() -> None:
    """Write every stored secret again with the first key of SO1_SECRET_KEY: secrets stored
    in clear become sealed, ones sealed with an older key move to the first. Without a key,
    sealed secrets are written back in clear."""
    container = open_database("security seal-secrets", create=False)
    upgrade_if_behind(container)
    try:
        counts = reseal_secrets(container.uow, container.clock, CLI_ACTOR)
        sealing = container.secret_box.sealing
    except So1Error as exc:  # sealed with a key that SO1_SECRET_KEY no longer holds
        fail(exc.detail)
    finally:
        container.close()
    how = "sealed with the first key of SO1_SECRET_KEY" if sealing else "in clear (no key set)"
    console.print(
        f"{counts['integrations']} integration secrets and {counts['server_secrets']} server"
        f" secrets are now stored {how}."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(security_app, name="security")
