"""The public status page: `/status` (HTML, each update's markdown rendered) and
`/status.json` (the same updates as plain text), no sign-in."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from so1.entrypoints.api.deps import ContainerDep
from so1.services.declaration.status_page import PublicIncident, public_status

router = APIRouter(tags=["status page"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# CommonMark with raw HTML off: an update's text can never inject markup into the page.
MARKDOWN = MarkdownIt("commonmark", {"html": False})
BREAKS = {"softbreak": "\n", "hardbreak": "\n"}
LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


@router.get("/status.json")
def status_json(container: ContainerDep) -> dict[str, Any]:
    """Components and the incidents announced on the status page in the last 90 days."""
    found = public_status(container.uow, container.clock.now())
    return {
        "status": found.status,
        "components": [{"name": k, "status": v} for k, v in found.components.items()],
        "incidents": [asdict(_plain_incident(i)) for i in found.incidents],
    }


def plain_text(markdown: str) -> str:
    """The words of a markdown text without its markup: one line per line or paragraph."""
    blocks = []
    for token in MARKDOWN.parse(markdown):
        if token.type == "inline":
            blocks.append("".join(_inline_text(token.children or [])))
    return "\n".join(b for b in blocks if b.strip())


def _inline_text(children: list[Token]) -> list[str]:
    return [BREAKS.get(c.type, c.content) for c in children if c.type in BREAKS or c.content]


def _plain_incident(incident: PublicIncident) -> PublicIncident:
    updates = [replace(u, text=plain_text(u.text)) for u in incident.updates]
    return replace(incident, title=plain_text(incident.title), updates=updates)


def _rendered(markdown: str) -> Markup:
    return Markup(MARKDOWN.render(markdown))  # noqa: S704 - raw HTML is off


templates.env.filters["markdown"] = _rendered


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request, container: ContainerDep) -> HTMLResponse:
    found = public_status(container.uow, container.clock.now())
    context = {"found": found, "labels": LABELS, "now": container.clock.now()}
    return templates.TemplateResponse(request, "status.html", context)
