"""`so1 demo --api-url`: the SO1 already running that the demo writes into. It must act on
this machine's supervisord and judge the gates within the demo's minute; its settings
(``GET /v1/system/runtime``) say whether it does, and if not the demo says what to change
before it starts anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

DEMO_SETTINGS = "SO1_STABILITY_MINUTES=0.25 SO1_CLOCK_SECONDS=1 SO1_OUTBOUND_ALLOW=127.0.0.1/32"
MAX_STABILITY_MINUTES = 1.0
MAX_CLOCK_SECONDS = 5
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    platform_root: Path
    supervisor_port: int
    stability_seconds: float


def unfit(runtime: Mapping[str, Any]) -> list[str]:
    """Why a server with these settings cannot run the demo (nothing when it can)."""
    problems = []
    if runtime.get("platform") != "local":
        problems.append(f"it acts on {runtime.get('platform')}, not here (SO1_PLATFORM=local)")
    supervisor = urlsplit(str(runtime.get("supervisor_url", "")))
    if supervisor.hostname not in LOOPBACK or supervisor.port is None:
        problems.append(
            f"its supervisord ({runtime.get('supervisor_url')}) is not on this machine's"
            " loopback with a port (SO1_SUPERVISOR_URL)"
        )
    if not runtime.get("runbook_clocks"):
        problems.append("it does not judge mitigations (SO1_RUNBOOK_CLOCKS=false)")
    if float(runtime.get("stability_minutes", 0)) > MAX_STABILITY_MINUTES:
        problems.append(
            f"it waits {runtime.get('stability_minutes'):g} min of stability before it"
            f" resolves (SO1_STABILITY_MINUTES, at most {MAX_STABILITY_MINUTES:g} for the demo)"
        )
    if int(runtime.get("clock_seconds", 0)) > MAX_CLOCK_SECONDS:
        problems.append(
            f"it judges the gates every {runtime.get('clock_seconds')} s"
            f" (SO1_CLOCK_SECONDS, at most {MAX_CLOCK_SECONDS} for the demo)"
        )
    return problems


def connect(url: str, key: str | None) -> Server:
    """The server at ``url``, checked; RuntimeError says what is wrong and how to fix it."""
    if not key:
        raise RuntimeError(f"set SO1_API_KEY to an admin key of {url}")
    try:
        answer = httpx.get(
            f"{url.rstrip('/')}/v1/system/runtime",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise RuntimeError(f"nothing answers at {url}: {exc}") from exc
    if answer.status_code in (401, 403):
        raise RuntimeError(f"SO1_API_KEY is not an admin key of {url} ({answer.status_code})")
    if answer.status_code != 200:
        raise RuntimeError(f"{url}/v1/system/runtime answered {answer.status_code}")
    runtime = answer.json()
    problems = unfit(runtime)
    if problems:
        raise RuntimeError(
            f"the server at {url} cannot run the demo: "
            + "; ".join(problems)
            + f". Start it for the demo with: {DEMO_SETTINGS} so1 serve"
        )
    port = urlsplit(runtime["supervisor_url"]).port
    assert port is not None  # unfit() checked
    return Server(
        url.rstrip("/"),
        key,
        Path(runtime["local_platform_root"]),
        port,
        float(runtime["stability_minutes"]) * 60,
    )
