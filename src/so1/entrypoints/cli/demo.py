"""`so1 demo`: the runbook's worked example on this machine, with real processes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from so1.entrypoints.cli.output import console, fail


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(help="where the database, releases and logs go (default: a new temp dir)"),
    ] = None,
    stability_seconds: Annotated[
        float,
        typer.Option(min=5, max=1800, help="the stability window, shortened from 30 min"),
    ] = 15.0,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="the port SO1 serves on (default: a free one)"),
    ] = None,
) -> None:
    """Run the runbook's worked example end to end: a service with a pool of 20 connections,
    traffic doubles, the alert, triage, declaration, acknowledgement by the on-call responder,
    the pool raised to 50 (recorded as a deployment), verification and resolution. Takes under
    a minute; the record stays in a database it names, with the command to serve it."""
    from so1.entrypoints.demo.script import Demo

    folder = (workdir or Path(tempfile.mkdtemp(prefix="so1-demo-"))).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "so1.db").exists():
        fail(
            f"{folder / 'so1.db'} exists: the demo starts from an empty database;"
            " pick another --workdir"
        )
    started = time.monotonic()
    try:
        outcome = Demo(folder, stability_seconds, console, port).run()
    except RuntimeError as exc:
        fail(f"the demo stopped: {exc}\nlogs in {folder}")
    took = time.monotonic() - started
    so1 = Path(sys.executable).with_name("so1")
    console.print(f"\nDone in {took:.0f} s. The whole record stays in {folder / 'so1.db'}.")
    console.print("Serve it and look (the admin key is the demo's own, in full):")
    for line in (
        f"  SO1_DATABASE_URL={outcome.database_url} {so1} serve --port {_port(outcome.so1_url)}",
        f"  export SO1_API_URL={outcome.so1_url}",
        f"  export SO1_API_KEY={outcome.token}",
        f"  then {outcome.so1_url}/incidents/{outcome.incident} in a browser, or"
        f" GET /v1/incidents/{outcome.incident}/timeline, /v1/deployments/recent",
    ):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if not (outcome.agreement.agrees and not outcome.restart.worse):
        fail(
            "the demo's own checks failed (see above): the gate and the console disagree"
            " or the restart made things worse"
        )


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
