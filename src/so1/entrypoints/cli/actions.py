"""`so1 actions`: postmortem action items through the API (list, overdue, done, CSV)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, print_json, print_table

actions_app = typer.Typer(help="Action items: list, export, mark done.", no_args_is_help=True)


@actions_app.command("list")
def list_items(
    owner: Annotated[str | None, typer.Option(help="only this owner's")] = None,
    status: Annotated[str | None, typer.Option(help="open, done or dropped")] = None,
    incident: Annotated[str | None, typer.Option(help="only this incident's")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="open and past due")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for a ticket tracker")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List postmortem action items: a table, JSON, or CSV for a ticket tracker."""
    params: dict[str, Any] = {
        k: v for k, v in {"owner": owner, "status": status, "incident_id": incident}.items() if v
    }
    if overdue:
        params["overdue"] = "true"
    if as_csv:
        csv_params = params | {"format": "csv"}
        typer.echo(call("GET", "/v1/action-items", text=True, params=csv_params), nl=False)
        return
    items = call("GET", "/v1/action-items", params=params)
    if as_json:
        print_json(items)
        return
    rows = [
        [
            i["id"],
            i["incident_id"] or "-",
            i["title"],
            i["owner"] or "-",
            i["due_date"] or "-",
            i["priority"],
            i["status"] + (" (overdue)" if i["overdue"] else ""),
        ]
        for i in items
    ]
    columns = ["id", "incident", "action", "owner", "due", "priority", "status"]
    print_table("Action items", columns, rows, keep=2, optional=["owner", "priority", "due"])


@actions_app.command("done")
def done(item_id: int) -> None:
    """Mark an action item done."""
    item = call("PATCH", f"/v1/action-items/{item_id}", json={"status": "done"})
    console.print(f"action item {item['id']} is done: {item['title']}")


def report(
    days: Annotated[int, typer.Option(help="the last N days")] = 90,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """MTTA, MTTM, MTTR, and incidents by severity, service and cause."""
    found = call("GET", "/v1/analytics", params={"days": days})
    if as_json:
        print_json(found)
        return
    console.print(f"{found['incidents']} incidents in the last {days} days")
    times = [
        [
            name.upper(),
            _num(found[name]["mean_minutes"]),
            _num(found[name]["median_minutes"]),
            found[name]["count"],
        ]
        for name in ("mtta", "mttm", "mttr")
    ]
    print_table("Times (minutes)", ["", "mean", "median", "incidents"], times)
    never = found["mtta"].get("unacknowledged")
    if never:
        console.print(f"{never} incident(s) never acknowledged (not in MTTA)")
    for key, title in (
        ("by_severity", "By severity"),
        ("by_service", "By service"),
        ("by_cause", "By cause"),
        ("checks_missed", "Runbook checks missed"),
    ):
        print_table(title, ["", "incidents"], [[k, v] for k, v in found[key].items()])


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def register(app: typer.Typer) -> None:
    app.add_typer(actions_app, name="actions")
    app.command("report")(report)
