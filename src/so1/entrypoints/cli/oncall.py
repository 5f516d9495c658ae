"""`so1 oncall`: who is on call, load the set-up from YAML, overrides, time off, calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, fail, print_json, print_table

oncall_app = typer.Typer(
    help="On-call: who is on call now and next (the default), schedules, overrides, time off."
)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
StartOpt = Annotated[
    datetime | None, typer.Option(help="when it starts (local time of this machine; default now)")
]


@oncall_app.callback(invoke_without_command=True)
def now(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option(help="only this team's schedules")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is on call now, until when, and who is next, per schedule."""
    if ctx.invoked_subcommand is not None:
        return
    found = call("GET", "/v1/oncall", params={"team": team} if team else None)
    if as_json:
        print_json(found)
        return
    rows = []
    for item in found:
        current, upcoming = item["now"], item.get("next") or {}
        who = current["handle"] or "[red]nobody[/]"
        if current["skipped"]:
            who += f" (covering for {', '.join(current['skipped'])})"
        rows.append(
            [
                item["schedule"],
                item["team"],
                who,
                current["via"],
                current["until"],
                upcoming.get("handle"),
                upcoming.get("starts_at"),
            ]
        )
    columns = ["schedule", "team", "on call", "via", "until", "next", "from"]
    print_table("On call now", columns, rows, optional=["via", "from", "next"])


def _read_yaml(path: Path) -> dict[str, Any]:
    """Every scalar as a string (the API converts): YAML 1.1 would read 17:00 as 1020."""
    try:
        data = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # noqa: S506 - no objects
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML: {exc}")
    known = {"teams", "people", "schedules", "escalation_policies"}
    if not isinstance(data, dict) or not set(data) & known:
        fail(f"{path}: expected a mapping with any of: {', '.join(sorted(known))}")
    return data


@oncall_app.command("load")
def load(file: Annotated[Path, typer.Argument(help="YAML: teams, people, schedules, ...")]) -> None:
    """Create or replace the teams, people, schedules and escalation policies in FILE."""
    result = call("PUT", "/v1/oncall/config", json=_read_yaml(file))
    for kind, counts in result["imported"].items():
        console.print(f"  {kind}: {counts['created']} created, {counts['updated']} updated")


def _window(start: datetime | None, hours: float) -> dict[str, str]:
    begin = (start.astimezone() if start else datetime.now(UTC)).astimezone(UTC)
    return {"start": begin.isoformat(), "end": (begin + timedelta(hours=hours)).isoformat()}


@oncall_app.command("override")
def override(
    schedule: str,
    handle: Annotated[str, typer.Argument(help="who covers")],
    hours: Annotated[float, typer.Option(min=0.25, help="how long")] = 24,
    start: StartOpt = None,
    reason: Annotated[str | None, typer.Option(help="e.g. swap, PTO cover")] = None,
) -> None:
    """Have HANDLE cover SCHEDULE for a while (a swap, or cover for someone's PTO)."""
    body = {"handle": handle, "reason": reason, **_window(start, hours)}
    made = call("POST", f"/v1/schedules/{schedule}/overrides", json=body)
    console.print(f"override {made['id']}: {handle} covers {schedule} until {made['ends_at']}")


@oncall_app.command("time-off")
def time_off(
    handle: str,
    days: Annotated[float, typer.Option(min=0.01, help="how long")] = 1,
    start: StartOpt = None,
    reason: Annotated[str | None, typer.Option(help="e.g. PTO")] = None,
) -> None:
    """Record that HANDLE is away: every rotation skips them to the next person."""
    body = {"reason": reason, **_window(start, days * 24)}
    made = call("POST", f"/v1/people/{handle}/time-off", json=body)
    console.print(f"time off {made['id']}: {handle} away until {made['ends_at']}")


@oncall_app.command("shifts")
def shifts(
    schedule: str,
    days: Annotated[int, typer.Option(min=1, max=366)] = 14,
    as_json: JsonOpt = False,
) -> None:
    """The schedule's shifts from now for DAYS days."""
    begin = datetime.now(UTC)
    params = {"start": begin.isoformat(), "end": (begin + timedelta(days=days)).isoformat()}
    found = call("GET", f"/v1/schedules/{schedule}/shifts", params=params)
    if as_json:
        print_json(found)
        return
    columns = ["handle", "via", "starts_at", "ends_at"]
    print_table(f"Shifts of {schedule}", columns, [[s[c] for c in columns] for s in found])


@oncall_app.command("calendar")
def calendar(
    schedule: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="default: stdout")] = None,
    days: Annotated[int, typer.Option(min=1, max=366)] = 90,
) -> None:
    """Export the schedule's shifts as an iCalendar file."""
    text = call("GET", f"/v1/schedules/{schedule}/calendar.ics", params={"days": days}, text=True)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text)
    console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")
