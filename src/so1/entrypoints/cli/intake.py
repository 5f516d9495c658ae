"""Commands for alert senders: integrations (admin key) and silences, on the server named by
SO1_API_URL."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from so1.domain.alerts import AlertSource
from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.output import console, fail, plain, print_json, print_table

integrations_app = typer.Typer(help="Alert senders and their secrets.", no_args_is_help=True)
silences_app = typer.Typer(help="Silences (maintenance windows).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]

_WHERE = {
    AlertSource.EVENTS: "routing_key of POST /v2/enqueue (PagerDuty Events v2 compatible)",
    AlertSource.PAGERDUTY: "Webhooks V3 signing secret → /v1/webhooks/pagerduty",
    AlertSource.DATADOG: "header X-SO1-Token in the Datadog webhook → /v1/webhooks/datadog",
    AlertSource.SENTRY: "client secret of the Sentry integration → /v1/webhooks/sentry",
    AlertSource.ALERTMANAGER: "Alertmanager http_config bearer token → /v1/webhooks/alertmanager",
}


@integrations_app.command("add")
def add(
    source: Annotated[
        AlertSource, typer.Argument(help="events, pagerduty, datadog, sentry, alertmanager")
    ],
    name: Annotated[str | None, typer.Option(help="defaults to the source")] = None,
    secret: Annotated[
        str | None, typer.Option(help="the vendor's signing secret, if it made one")
    ] = None,
) -> None:
    """Add a sender; its secret is printed once, alone on the last line."""
    body: dict[str, Any] = {"source": source.value, "name": name, "secret": secret}
    made = call("POST", "/v1/integrations", json={k: v for k, v in body.items() if v})
    console.print(
        f"added {source} integration {made['id']} '{made['name']}'; use it as the {_WHERE[source]}:"
    )
    typer.echo(made["secret"])


@integrations_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List senders (never their secrets)."""
    found = call("GET", "/v1/integrations")
    if as_json:
        print_json(found)
        return
    rows = [
        [
            i["id"],
            i["source"],
            i["name"],
            i["created_at"],
            i["rotated_at"],
            "disabled" if i["disabled_at"] else "active",
        ]
        for i in found
    ]
    columns = ["id", "source", "name", "created", "rotated", "state"]
    print_table("Integrations", columns, rows, optional=["created", "rotated"])


@integrations_app.command("rotate")
def rotate(
    integration_id: str,
    secret: Annotated[str | None, typer.Option(help="the vendor's new signing secret")] = None,
    grace_seconds: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="old secret keeps working this long [SO1_INTEGRATION_ROTATION_GRACE_SECONDS]",
        ),
    ] = None,
) -> None:
    """New secret; the previous one stays valid for the grace period. Printed on the last line."""
    body = {"secret": secret, "grace_seconds": grace_seconds}
    made = call(
        "POST",
        f"/v1/integrations/{integration_id}/rotate",
        json={k: v for k, v in body.items() if v is not None},
    )
    until = plain(made["previous_valid_until"])
    console.print(f"rotated {integration_id}; the old secret works until {until}:")
    typer.echo(made["secret"])


@integrations_app.command("disable")
def disable(integration_id: str) -> None:
    """Stop accepting anything signed with this integration's secrets."""
    call("POST", f"/v1/integrations/{integration_id}/disable")
    console.print(f"disabled {integration_id}")


@silences_app.command("add")
def silence_add(
    match: Annotated[
        list[str],
        typer.Option(help="field=value (service, source, metric, dedup_key, labels.NAME); repeat"),
    ],
    reason: Annotated[str, typer.Option(help="why (shown on suppressed alerts)")],
    duration: Annotated[int, typer.Option(min=1, help="minutes from now")] = 60,
) -> None:
    """Suppress paging for matching alerts during a window; the alerts are still recorded."""
    matchers: dict[str, str] = {}
    for item in match:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"--match takes field=value, not '{item}'", code=2)
        matchers[key.strip()] = value.strip()
    body = {"matchers": matchers, "reason": reason, "duration_minutes": duration}
    created = call(
        "POST",
        "/v1/silences",
        json=body,
        fields={"matchers": "--match", "duration_minutes": "--duration"},
    )
    console.print(f"silence {created['id']} active until {plain(created['ends_at'])}")


@silences_app.command("list")
def silence_list(as_json: JsonOpt = False) -> None:
    """List silences, active first."""
    found = call("GET", "/v1/silences")
    if as_json:
        print_json(found)
        return
    columns = ["id", "matchers", "starts_at", "ends_at", "active", "reason"]
    rows = [[s.get(c) for c in columns] for s in found]
    print_table("Silences", columns, rows, optional=["starts_at"])


@silences_app.command("expire")
def silence_expire(silence_id: int) -> None:
    """End a silence now."""
    call("DELETE", f"/v1/silences/{silence_id}")
    console.print(f"silence {silence_id} expired")


def register(app: typer.Typer) -> None:
    app.add_typer(integrations_app, name="integrations")
    app.add_typer(silences_app, name="silences")
