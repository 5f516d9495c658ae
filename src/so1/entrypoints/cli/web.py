"""`so1 login-link`: a one-time link that signs in to the web pages of the server named by
SO1_API_URL."""

from __future__ import annotations

from typing import Annotated

import typer

from so1.entrypoints.cli.client import ApiClient
from so1.entrypoints.cli.output import plain


def login_link(
    key_name: Annotated[
        str | None,
        typer.Option("--key", help="sign in as this API key's name (admin); default: your own"),
    ] = None,
) -> None:
    """Print a link that signs in to the web pages once, within 15 minutes, with the scopes of
    your key (SO1_API_KEY), or of the newest usable key of another name."""
    client = ApiClient.from_settings()
    try:
        body = {"key_name": key_name} if key_name else {}
        link = client.request("POST", "/v1/login-links", json=body, fields={"key_name": "--key"})
    finally:
        client.close()
    typer.echo(f"Sign in as {link['key_name']}; open before {plain(link['expires_at'])} (once):")
    typer.echo(f"{client.base_url}{link['path']}")


def register(app: typer.Typer) -> None:
    app.command("login-link")(login_link)
