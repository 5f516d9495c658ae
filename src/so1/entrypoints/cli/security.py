"""`so1 security`: the security-breach playbook's one command to rotate everything (works on
the local database, so it works when the API keys themselves are the problem)."""

from __future__ import annotations

from typing import Annotated

import typer

from so1.adapters.db.secret_box import new_key
from so1.entrypoints.cli.local import open_migrated
from so1.entrypoints.cli.output import console, fail, print_json, print_table
from so1.errors import So1Error
from so1.services.access.keys import NO_CACHE
from so1.services.incidents.recording import Actor
from so1.services.intake.integrations import reseal_secrets
from so1.services.investigation.security_playbook import rotate_everything

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
    container = open_migrated()
    try:
        done = rotate_everything(container.uow, container.clock, Actor("cli"), NO_CACHE)
    finally:
        container.close()
    keys = [
        [k.key.name, k.key.id, ",".join(sorted(s.value for s in k.key.scopes)), k.token]
        for k in done.keys
    ]
    secrets = [[i.source.value, i.name, i.id, i.secret] for i in done.integrations]
    if as_json:
        print_json({"keys": keys, "integrations": secrets})
        return
    console.print(
        f"Rotated {len(keys)} API keys and {len(secrets)} integration secrets. "
        "The old ones no longer work. Shown only this once:"
    )
    print_table("API keys", ["key", "id", "scopes", "new token"], keys)
    print_table("Integrations", ["source", "integration", "id", "new secret"], secrets)
    console.print("Running servers forget cached keys within SO1_AUTH_CACHE_SECONDS.")


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
    container = open_migrated()
    try:
        counts = reseal_secrets(container.uow, container.clock, Actor("cli"))
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
