"""`so1 run`: follow agent runs, and approve or decline a platform action that waits for a
human (through the API, with SO1_API_URL and SO1_API_KEY)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, print_json

run_app = typer.Typer(help="Agent runs: show, approve, decline.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def _show(run: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(run)
        return
    plan = (run.get("output") or {}).get("plan") or {}
    console.print(f"{run['run_id']} {run['agent']}: [bold]{run['status']}[/]")
    for step in plan.get("steps") or []:
        console.print(f"  • {step}")
    if plan.get("approval_reason") and run["status"] == "awaiting_approval":
        console.print(f"  needs approval: {plan['approval_reason']}")
    if run.get("error"):
        console.print(f"  [red]{run['error']}[/]")


@run_app.command("show")
def show(run_id: str, as_json: JsonOpt = False) -> None:
    """A run's status, plan steps and error."""
    _show(call("GET", f"/v1/orchestrate/runs/{run_id}"), as_json)


@run_app.command("approve")
def approve(run_id: str, as_json: JsonOpt = False) -> None:
    """Approve a platform action awaiting approval (not your own request); it runs now."""
    _show(call("POST", f"/v1/orchestrate/runs/{run_id}/approve"), as_json)


@run_app.command("decline")
def decline(run_id: str, as_json: JsonOpt = False) -> None:
    """Decline a platform action awaiting approval."""
    _show(call("POST", f"/v1/orchestrate/runs/{run_id}/decline"), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(run_app, name="run")
