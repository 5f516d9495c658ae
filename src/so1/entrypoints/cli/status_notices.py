"""`so1 incident status-page show | edit | publish`: the incident's status-page notices and the
drafts that wait for a person (SO1_STATUS_PAGE_APPROVAL=draft)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, fail, print_json
from so1.entrypoints.cli.remote import JsonOpt, incident_app

status_page_app = typer.Typer(
    help="Status-page notices: show them, edit and publish drafts.", no_args_is_help=True
)
DraftOpt = Annotated[int | None, typer.Option("--draft", help="draft id; default: the oldest")]
TextOpt = Annotated[str | None, typer.Option(help="the public text (markdown)")]
TitleOpt = Annotated[str | None, typer.Option(help="the public title")]


def _print(notice: dict[str, Any]) -> None:
    who = f", published by @{notice['published_by']}" if notice.get("published_by") else ""
    head = f"[bold]#{notice['id']} {notice['title'] or 'Update'}[/] {notice['kind']} · "
    console.print(head + notice["status"] + who, highlight=False)
    console.print(notice["text"], highlight=False, markup=False)
    console.print()


@status_page_app.command("show")
def show(incident_id: str, as_json: JsonOpt = False) -> None:
    """The incident's status-page notices: drafts (not public yet) and published ones."""
    found = call("GET", f"/v1/incidents/{incident_id}/status-page")
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("nothing for the status page")
    for notice in found:
        _print(notice)


def _draft_id(incident_id: str, draft: int | None) -> int:
    if draft is not None:
        return draft
    found = call("GET", f"/v1/incidents/{incident_id}/status-page")
    waiting = [n["id"] for n in found if n["status"] == "draft"]
    if not waiting:
        fail(f"{incident_id} has no status-page draft waiting")
    return int(waiting[0])


@status_page_app.command("edit")
def edit(
    incident_id: str,
    draft: DraftOpt = None,
    text: TextOpt = None,
    title: TitleOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a draft's text or title; it stays a draft."""
    body = {k: v for k, v in {"text": text, "title": title}.items() if v is not None}
    if not body:
        fail("nothing to change: give --text and/or --title")
    draft_id = _draft_id(incident_id, draft)
    edited = call("PATCH", f"/v1/incidents/{incident_id}/status-page/drafts/{draft_id}", json=body)
    if as_json:
        print_json(edited)
        return
    _print(edited)


@status_page_app.command("publish")
def publish(
    incident_id: str,
    draft: DraftOpt = None,
    text: TextOpt = None,
    title: TitleOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a draft (with its final --text/--title if given) to the status page."""
    given = {"draft_id": draft, "text": text, "title": title}
    body = {k: v for k, v in given.items() if v is not None}
    published = call("POST", f"/v1/incidents/{incident_id}/status-page/publish", json=body)
    if as_json:
        print_json(published)
        return
    console.print(f"published status-page notice #{published['id']} (queued for delivery)")


def register(app: typer.Typer) -> None:  # noqa: ARG001 - joins `so1 incident`
    incident_app.add_typer(status_page_app, name="status-page")
