"""Commands that talk to a running server: incidents, the catalog, feature flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml

from so1.entrypoints.cli.client import ApiClient, call
from so1.entrypoints.cli.output import console, fail, print_json, print_record, print_table

incident_app = typer.Typer(
    help="Record, declare, list, show and update incidents.", no_args_is_help=True
)
catalog_app = typer.Typer(help="The service catalog.", no_args_is_help=True)
flags_app = typer.Typer(help="Feature flags.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
_INCIDENT_FIELDS = ["id", "severity", "status", "title", "service", "commander", "detected_at"]
_INCIDENT_COLUMNS = ["id", "sev", "status", "title", "service", "commander", "detected"]


@incident_app.command("create")
def incident_create(
    title: Annotated[str, typer.Option(help="what is wrong, in a few words")],
    severity: Annotated[str, typer.Option(help="SEV0..SEV4")],
    service: Annotated[str | None, typer.Option(help="most affected service")] = None,
    summary: Annotated[str | None, typer.Option(help="longer description")] = None,
    status: Annotated[str, typer.Option(help="triggered or investigating")] = "triggered",
    as_json: JsonOpt = False,
) -> None:
    """Record an incident (no war room, no pages: `so1 incident declare` does that)."""
    body = {"title": title, "severity": severity.upper(), "status": status}
    body |= {k: v for k, v in {"service": service, "summary": summary}.items() if v}
    incident = call("POST", "/v1/incidents", json=body)
    if as_json:
        print_json(incident)
        return
    inc_id = incident["id"]
    console.print(f"recorded {inc_id} ({incident['severity']}, {incident['status']})")
    console.print(f"declare it (war room, pages): so1 incident declare {inc_id}")


@incident_app.command("list")
def incident_list(
    status: Annotated[str | None, typer.Option(help="comma-separated statuses")] = None,
    severity: Annotated[str | None, typer.Option(help="comma-separated severities")] = None,
    service: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    params = {"status": status, "severity": severity, "service": service, "limit": limit}
    page = call("GET", "/v1/incidents", params={k: v for k, v in params.items() if v})
    if as_json:
        print_json(page)
        return
    rows = [[i.get(c) for c in _INCIDENT_FIELDS] for i in page["items"]]
    title = f"Incidents ({len(rows)} of {page['total']})"
    optional = ["service", "commander", "detected"]
    print_table(title, _INCIDENT_COLUMNS, rows, optional=optional)


@incident_app.command("show")
def incident_show(incident_id: str, as_json: JsonOpt = False) -> None:
    """Show an incident and its timeline."""
    incident = call("GET", f"/v1/incidents/{incident_id}")
    timeline = call("GET", f"/v1/incidents/{incident_id}/timeline")
    if as_json:
        print_json({"incident": incident, "timeline": timeline})
        return
    print_record(incident["id"], incident)
    rows = [[e["occurred_at"], e["kind"], e["actor"], e["summary"]] for e in timeline["events"]]
    print_table("Timeline", ["at", "kind", "actor", "summary"], rows, optional=["actor"])


@incident_app.command("update")
def incident_update(
    incident_id: str,
    status: Annotated[str | None, typer.Option(help="next status")] = None,
    severity: Annotated[str | None, typer.Option(help="new severity")] = None,
    reason: Annotated[str | None, typer.Option(help="why the severity changed")] = None,
    resolution_summary: Annotated[str | None, typer.Option(help="how it was resolved")] = None,
    resolved_at: Annotated[
        str | None, typer.Option(help="ISO 8601, e.g. 2024-01-15T14:30:00Z")
    ] = None,
    title: Annotated[str | None, typer.Option()] = None,
    commander: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change status, severity (with --reason) or fields; close with --status resolved and
    --resolution-summary."""
    fields = {
        "status": status,
        "severity": severity.upper() if severity else None,
        "severity_reason": reason,
        "resolution_summary": resolution_summary,
        "resolved_at": resolved_at,
        "title": title,
        "commander": commander,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    if not body:
        fail("nothing to update: give at least one option (see --help)", code=2)
    incident = call(
        "PATCH", f"/v1/incidents/{incident_id}", json=body, fields={"severity_reason": "--reason"}
    )
    if as_json:
        print_json(incident)
        return
    console.print(f"{incident['id']}: {incident['severity']}, {incident['status']}")


def _read_catalog(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML: {exc}")
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        fail(f"{path}: expected a top-level 'services:' list of mappings")
    for index, entry in enumerate(services):
        if not entry.get("name"):
            fail(f"{path}: services[{index}] has no 'name'")
    return services


@catalog_app.command("load")
def catalog_load(
    file: Annotated[Path, typer.Argument(help="YAML with a 'services:' list")],
) -> None:
    """Create or replace every service in FILE (name, tier, owner_team, dependencies, ...)."""
    services = _read_catalog(file)
    client = ApiClient.from_settings()
    try:
        for entry in services:
            body = {k: v for k, v in entry.items() if k != "name"}
            client.request("PUT", f"/v1/services/{entry['name']}", json=body)
            console.print(f"  {entry['name']} ({body.get('tier')})")
    finally:
        client.close()
    console.print(f"loaded {len(services)} service(s) from {file}")


@catalog_app.command("list")
def catalog_list(as_json: JsonOpt = False) -> None:
    """List the services in the catalog."""
    services = call("GET", "/v1/services")
    if as_json:
        print_json(services)
        return
    columns = ["name", "tier", "owner_team", "dependencies", "users"]
    rows = [[s.get(c) for c in columns] for s in services]
    print_table("Services", columns, rows, optional=["dependencies", "users"])


@flags_app.command("list")
def flags_list(as_json: JsonOpt = False) -> None:
    """List feature flags."""
    flags = call("GET", "/v1/feature-flags")
    if as_json:
        print_json(flags)
        return
    columns = ["key", "enabled", "service", "updated_by", "updated_at"]
    rows = [[f.get(c) for c in columns] for f in flags]
    print_table("Feature flags", columns, rows, optional=["updated_by", "updated_at"])


_STATES = {"on": True, "true": True, "enable": True, "off": False, "false": False, "disable": False}


@flags_app.command("set")
def flags_set(
    key: str,
    state: Annotated[str, typer.Argument(help="on or off")],
    reason: Annotated[str | None, typer.Option(help="why (kept with the flip)")] = None,
    create: Annotated[
        bool, typer.Option("--create", help="create the flag (or replace it) if need be")
    ] = False,
    service: Annotated[
        str | None, typer.Option(help="with --create: the service the flag belongs to")
    ] = None,
    description: Annotated[str | None, typer.Option(help="with --create: what it does")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a flag on or off; every flip is kept with who, when and why. A flag must exist:
    make it with --create."""
    if state.lower() not in _STATES:
        fail(f"state must be on or off, not '{state}'", code=2)
    if (service or description) and not create:
        fail("--service and --description describe a new flag: add --create", code=2)
    body: dict[str, Any] = {"enabled": _STATES[state.lower()], "reason": reason}
    if create:
        body |= {k: v for k, v in {"service": service, "description": description}.items() if v}
    flag = call("PUT" if create else "PATCH", f"/v1/feature-flags/{key}", json=body, none_on=(404,))
    if flag is None:
        _no_such_flag(key)
    if as_json:
        print_json(flag)
        return
    console.print(f"{flag['key']} is now {'on' if flag['enabled'] else 'off'}")


def _no_such_flag(key: str) -> NoReturn:
    known = [f["key"] for f in call("GET", "/v1/feature-flags")]
    some = ", ".join(known[:10]) or "none yet"
    fail(f"no feature flag '{key}' (flags: {some}); create it with --create")


def register(app: typer.Typer) -> None:
    app.add_typer(incident_app, name="incident")
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(flags_app, name="flags")
