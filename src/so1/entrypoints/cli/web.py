"""`so1 login-link`: a one-time link that signs in to the web pages (works on the local
database, like `so1 keys`)."""

from __future__ import annotations

from typing import Annotated

import typer

from so1.entrypoints.cli.local import open_migrated
from so1.entrypoints.cli.output import fail
from so1.errors import So1Error
from so1.services.access.web_sessions import LINK_LIFETIME, new_login_link
from so1.services.incidents.recording import Actor


def login_link(
    key_name: Annotated[
        str, typer.Option("--key", help="sign in as this API key's name")
    ] = "admin",
) -> None:
    """Print a link that signs in to the web pages once, within 15 minutes, with the scopes
    of the newest usable key of that name."""
    container = open_migrated()
    try:
        token = new_login_link(container.uow, container.clock, Actor("cli"), key_name)
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    base = container.settings.api_url.rstrip("/")
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    typer.echo(f"Open within {minutes} minutes (it works once):")
    typer.echo(f"{base}/login/{token}")


def register(app: typer.Typer) -> None:
    app.command("login-link")(login_link)
