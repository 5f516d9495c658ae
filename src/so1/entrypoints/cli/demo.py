"""`so1 demo`: the runbook's worked example on this machine, with real processes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from so1.entrypoints.cli.output import console, fail

if TYPE_CHECKING:
    from so1.entrypoints.demo.script import Outcome


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(help="where the database, releases and logs go (default: a new temp dir)"),
    ] = None,
    stability_seconds: Annotated[
        float,
        typer.Option(min=5, max=1800, help="the stability window, shortened from 30 min"),
    ] = 10.0,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="the port SO1 serves on (default: a free one)"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="write into the SO1 already serving there (with SO1_API_KEY, an admin key)"
            " instead of starting one; it must run with the settings the demo names"
        ),
    ] = None,
) -> None:
    """Run the runbook's worked example end to end: a service with a pool of 20 connections,
    traffic doubles, the alert, triage, declaration, acknowledgement by the on-call responder,
    the pool raised to 50 (recorded as a deployment), verification and resolution. Takes under
    a minute. The record stays in the server named by --api-url, or else in a database the
    demo names, with the command to serve it."""
    from so1.entrypoints.demo.script import Demo
    from so1.entrypoints.demo.server import Server, connect

    if api_url and port:
        fail("--port is for the SO1 the demo starts; with --api-url it uses that server")
    try:
        server: Server | None = connect(api_url, _api_key()) if api_url else None
    except RuntimeError as exc:
        fail(f"the demo cannot start: {exc}")
    folder = (workdir or Path(tempfile.mkdtemp(prefix="so1-demo-"))).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if not api_url and (folder / "so1.db").exists():
        fail(
            f"{folder / 'so1.db'} exists: the demo starts from an empty database;"
            " pick another --workdir"
        )
    started = time.monotonic()
    try:
        outcome = Demo(folder, stability_seconds, console, port, server).run()
    except RuntimeError as exc:
        fail(f"the demo stopped: {exc}\nlogs in {folder}")
    console.print(f"\nDone in {time.monotonic() - started:.0f} s.")
    _where_the_record_is(outcome, folder, own=server is None)
    if not outcome.agreement.agrees or outcome.restart.worse:
        fail(
            "the demo's own checks failed (see above): the gate and the console disagree"
            " or the restart made things worse"
        )


def _api_key() -> str | None:
    """SO1_API_KEY, from the environment or so1.toml, as every client command reads it."""
    from so1.config import Settings

    key = Settings().api_key
    return key.get_secret_value() if key else None


def _where_the_record_is(outcome: Outcome, folder: Path, own: bool) -> None:
    url, incident = outcome.so1_url, outcome.incident
    lines = [f"  {url}/incidents/{incident} in a browser, GET /v1/deployments/recent"]
    if own:
        so1 = Path(sys.executable).with_name("so1")
        port = url.rsplit(":", 1)[1]
        console.print(f"The whole record stays in {folder / 'so1.db'}. Serve it and look:")
        lines = [
            f"  SO1_DATABASE_URL={outcome.database_url} {so1} serve --port {port}",
            f"  export SO1_API_URL={url}",
            f"  export SO1_API_KEY={outcome.token}",
            *lines,
        ]
    else:
        console.print(f"The record is in the server at {url}:")
    for line in lines:  # whole, never wrapped: a key cut short is no key
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
