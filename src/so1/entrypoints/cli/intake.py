"""Commands for alert senders (local database): integrations; and silences (through the API)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from so1.domain.alerts import AlertSource
from so1.entrypoints.cli.client import call
from so1.entrypoints.cli.local import CLI_ACTOR, open_migrated
from so1.entrypoints.cli.output import console, fail, print_json, print_table
from so1.errors import So1Error
from so1.services.intake import integrations

integrations_app = typer.Typer(help="Alert senders and their secrets.", no_args_is_help=True)
silences_app = typer.Typer(help="Silences / maintenance windows.", no_args_is_help=True)

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
    container = open_migrated()
    try:
        created = integrations.add_integration(
            container.uow, container.clock, CLI_ACTOR, source, name or source.value, secret
        )
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    console.print(
        f"added {source} integration {created.id} '{created.name}'; use it as the {_WHERE[source]}:"
    )
    typer.echo(created.secret)


@integrations_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List senders (never their secrets)."""
    container = open_migrated()
    try:
        found = integrations.list_integrations(container.uow)
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    rows = [
        [
            i.id,
            i.source.value,
            i.name,
            i.created_at.isoformat(timespec="seconds"),
            i.rotated_at.isoformat(timespec="seconds") if i.rotated_at else None,
            "disabled" if i.disabled_at else "active",
        ]
        for i in found
    ]
    columns = ["id", "source", "name", "created", "rotated", "state"]
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
    else:
        print_table("Integrations", columns, rows)


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
    container = open_migrated()
    seconds = (
        container.settings.integration_rotation_grace_seconds
        if grace_seconds is None
        else grace_seconds
    )
    try:
        rotated = integrations.rotate_integration(
            container.uow,
            container.clock,
            CLI_ACTOR,
            integration_id,
            timedelta(seconds=seconds),
            secret,
        )
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    console.print(
        f"rotated {integration_id}; the old secret works {timedelta(seconds=seconds)} more:"
    )
    typer.echo(rotated.secret)


@integrations_app.command("disable")
def disable(integration_id: str) -> None:
    """Stop accepting anything signed with this integration's secrets."""
    container = open_migrated()
    try:
        integrations.disable_integration(container.uow, container.clock, CLI_ACTOR, integration_id)
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
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
    created = call("POST", "/v1/silences", json=body)
    console.print(f"silence {created['id']} active until {created['ends_at']}")


@silences_app.command("list")
def silence_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List silences, active first."""
    found = call("GET", "/v1/silences")
    if as_json:
        print_json(found)
        return
    columns = ["id", "matchers", "starts_at", "ends_at", "active", "reason"]
    print_table("Silences", columns, [[s.get(c) for c in columns] for s in found])


@silences_app.command("expire")
def silence_expire(silence_id: int) -> None:
    """End a silence now."""
    call("DELETE", f"/v1/silences/{silence_id}")
    console.print(f"silence {silence_id} expired")


def register(app: typer.Typer) -> None:
    app.add_typer(integrations_app, name="integrations")
    app.add_typer(silences_app, name="silences")
