"""`so1 demo`: the runbook's worked example on this machine, with real processes."""

from __future__ import annotations

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
    ] = 30.0,
) -> None:
    """Run the runbook's worked example end to end: a service with a pool of 20 connections,
    traffic doubles, the alert, triage, declaration, the pool raised to 50, verification and
    resolution. Takes about two minutes."""
    from so1.entrypoints.demo.script import Demo

    folder = workdir or Path(tempfile.mkdtemp(prefix="so1-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        incident = Demo(folder, stability_seconds, console).run()
    except RuntimeError as exc:
        fail(f"the demo stopped: {exc}\nlogs in {folder}")
    took = time.monotonic() - started
    console.print(f"\nDone in {took:.0f} s. The whole record stays in {folder / 'so1.db'}:")
    console.print(f"  SO1_DATABASE_URL=sqlite:///{folder / 'so1.db'} so1 serve")
    console.print(f"  then GET /v1/incidents/{incident}/timeline, .../messages, .../context")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
