"""The public status page: `/status` (HTML) and `/status.json`, no sign-in."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from so1.entrypoints.api.deps import ContainerDep
from so1.services.declaration.status_page import public_status

router = APIRouter(tags=["status page"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
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
        "incidents": [asdict(i) for i in found.incidents],
    }


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request, container: ContainerDep) -> HTMLResponse:
    found = public_status(container.uow, container.clock.now())
    context = {"found": found, "labels": LABELS, "now": container.clock.now()}
    return templates.TemplateResponse(request, "status.html", context)
