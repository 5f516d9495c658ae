"""`so1 status`: which server the CLI talks to, and how that server is doing."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.config import Settings
from so1.entrypoints.cli.client import ApiClient, api_url_set
from so1.entrypoints.cli.output import fail, plain, print_fields, print_json


def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """The server SO1_API_URL names: its version and health, the database it uses, your key's
    name and scopes, and its background work (jobs and queues). Exits 1 when something is
    wrong."""
    settings = Settings()
    client = ApiClient.from_settings()
    try:
        answer = client.get_public("/v1/health")
        if answer is None:
            fail(
                f"cannot reach SO1 at {client.base_url}; is `so1 serve` running?"
                " Set SO1_API_URL to point elsewhere"
            )
        health: dict[str, Any] = answer.json()
        key = client.request("GET", "/v1/keys/me")
        system = client.request("GET", "/v1/system", none_on=(403,))
    finally:
        client.close()
    found = {"server": client.base_url, "health": health, "key": key, "system": system}
    if as_json:
        print_json(found)
    else:
        named = "SO1_API_URL" if api_url_set(settings) else "the default; set SO1_API_URL"
        print_fields(_summary(client.base_url, named, health, key, system))
    problems = (system or {}).get("background", {}).get("problems", [])
    if health.get("status") != "healthy" or problems:
        raise typer.Exit(1)


def _summary(
    url: str, named: str, health: dict[str, Any], key: dict[str, Any], system: Any
) -> dict[str, str]:
    checks = ", ".join(f"{name} {result}" for name, result in health.get("checks", {}).items())
    lines = {
        "server": f"{url} ({named})",
        "version": f"{health.get('version')}, {health.get('status')} ({checks})",
        "key": f"{key['name']} (id {key['id']}; scopes {', '.join(key['scopes'])})",
    }
    if key.get("expires_at"):
        lines["key"] += f", expires {plain(key['expires_at'])}"
    if system is None:
        lines["database"] = "shown to admin keys only"
        return lines
    database, background = system["database"], system["background"]
    behind = "" if database["revision"] == database["latest_revision"] else ", NOT MIGRATED"
    lines["database"] = f"{database['url']} ({database['dialect']}{behind})"
    lines |= _background(background)
    return lines


def _background(background: dict[str, Any]) -> dict[str, str]:
    if background["engine"]:
        where = f"in this server ({background['engine']})"
    elif background["setting"] == "worker":
        where = "in `so1 worker` processes"
    else:
        where = "nowhere: switched off in this server"
    lines = {"background": f"SO1_BACKGROUND={background['setting']}; jobs run {where}"}
    for job in background["jobs"]:
        state = "running" if job["alive"] else "STOPPED"
        last = plain(job["last_finished_at"])
        passes = f"{job['passes']} passes, the last at {last}" if last else "no pass yet"
        failing = f"; FAILING: {job['last_error']}" if job["failures_in_a_row"] else ""
        lines[f"  {job['name']}"] = f"{state}, {passes}{failing}"
    queues = background["queues"]
    lines["queues"] = "; ".join(
        f"{name} {q['waiting']} waiting" + (f" since {plain(q['oldest'])}" if q["oldest"] else "")
        for name, q in queues.items()
    )
    lines["problems"] = "; ".join(background["problems"]) or "none"
    return lines


def register(app: typer.Typer) -> None:
    app.command("status")(status)
