"""Commands that work on this machine's database directly: serve, db, keys."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from so1.adapters.db import migrate
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import ApiKey, parse_scopes
from so1.entrypoints.cli.output import console, fail, print_json, print_table
from so1.errors import So1Error
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor

CLI_ACTOR = Actor(name="cli")

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (works on the local database).", no_args_is_help=True)


def _container() -> Container:
    try:
        return build_container(Settings())
    except (ValueError, SQLAlchemyError) as exc:
        fail(f"cannot open the database: {exc}")
    except So1Error as exc:  # a setting that cannot work, e.g. a malformed SO1_SECRET_KEY
        fail(exc.detail)


def _upgrade(container: Container) -> None:
    url = container.engine.url.render_as_string(hide_password=True)
    try:
        migrate.upgrade(container.engine)
    except SQLAlchemyError as exc:
        fail(f"cannot migrate {url}: {exc.__class__.__name__}: {exc.args[0] if exc.args else exc}")
    console.print(f"database {url} at revision {migrate.current_revision(container.engine)}")


def serve(
    host: Annotated[str | None, typer.Option(help="address to bind [SO1_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind [SO1_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="server processes [SO1_WORKERS]")] = None,
) -> None:
    """Migrate the database, then serve the API and web pages."""
    settings = Settings()
    host, port = host or settings.host, port or settings.port
    container = _container()
    _upgrade(container)
    if settings.bootstrap_admin_key:
        issued = access.ensure_admin_key(container.uow, container.clock)
        if issued is not None:
            console.print("First start: created an admin API key. It is shown only this once:")
            typer.echo(f"  {issued.token}")
            console.print(
                "  export SO1_API_KEY=<that key>; more with `so1 keys create --name NAME`"
            )
    container.close()
    base = f"http://{host}:{port}"
    typer.echo(f"SO1 serving on {base}  (API docs: {base}/docs, health: {base}/v1/health)")
    uvicorn.run(
        "so1.entrypoints.api.app:create_default_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run while servers start)."""
    container = _container()
    _upgrade(container)
    container.close()


def _key_row(key: ApiKey) -> list[str | None]:
    def iso(value: object) -> str | None:
        return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else None

    scopes = ",".join(sorted(s.value for s in key.scopes))
    return [
        key.id,
        key.name,
        key.person,
        scopes,
        iso(key.created_at),
        iso(key.expires_at),
        iso(key.revoked_at),
        iso(key.last_used_at),
    ]


_KEY_COLUMNS = ["id", "name", "person", "scopes", "created", "expires", "revoked", "last used"]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scopes: Annotated[
        str, typer.Option(help="comma-separated: read,write,deploy,security,admin")
    ] = "read,write",
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="expire after N days")] = None,
    person: Annotated[
        str | None,
        typer.Option(help="the person the key belongs to (a handle): the two-person rule"),
    ] = None,
) -> None:
    """Create a key; the key itself is printed once, alone on the last line."""
    try:
        wanted = parse_scopes([s.strip() for s in scopes.split(",") if s.strip()])
    except ValueError as exc:
        fail(str(exc), code=2)
    container = _container()
    _upgrade_quietly(container)
    expires = container.clock.now() + timedelta(days=expires_in_days) if expires_in_days else None
    issued = access.create_key(
        container.uow, container.clock, CLI_ACTOR, name, wanted, expires, person=person
    )
    container.close()
    console.print(f"created key {issued.key.id} '{name}' with scopes {scopes}; store it now:")
    typer.echo(issued.token)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List keys (never their secrets)."""
    container = _container()
    _upgrade_quietly(container)
    rows = [_key_row(k) for k in access.list_keys(container.uow)]
    container.close()
    if as_json:
        print_json([dict(zip(_KEY_COLUMNS, row, strict=True)) for row in rows])
    else:
        print_table("API keys", _KEY_COLUMNS, rows)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (not the secret)")],
) -> None:
    """Revoke a key at once."""
    container = _container()
    try:
        access.revoke_key(container.uow, container.clock, CLI_ACTOR, key_id)
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    console.print(f"revoked key {key_id}")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="the key's id (not the secret)")],
    grace_seconds: Annotated[
        int | None,
        typer.Option(
            min=0, help="old key keeps working this long [SO1_KEY_ROTATION_GRACE_SECONDS]"
        ),
    ] = None,
) -> None:
    """Issue a replacement key; the old one keeps working for the grace period."""
    container = _container()
    grace = timedelta(
        seconds=grace_seconds
        if grace_seconds is not None
        else container.settings.key_rotation_grace_seconds
    )
    try:
        issued = access.rotate_key(container.uow, container.clock, CLI_ACTOR, key_id, grace)
    except So1Error as exc:
        fail(exc.detail)
    finally:
        container.close()
    console.print(f"new key {issued.key.id} replaces {key_id}, which expires in {grace}:")
    typer.echo(issued.token)


def _upgrade_quietly(container: Container) -> None:
    if migrate.current_revision(container.engine) != migrate.head_revision():
        _upgrade(container)


def open_migrated() -> Container:
    """A container on a database at the latest schema (migrating first when needed)."""
    container = _container()
    _upgrade_quietly(container)
    return container


def _log_to_stderr(level: str) -> None:
    """Warnings and failed passes reach the terminal; procrastinate's line per job only at
    debug level."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level.lower() != "debug":
        logging.getLogger("procrastinate").setLevel(logging.WARNING)


def worker() -> None:
    """Run the background work (triage, delivery of messages and pages, runbook clocks and
    escalation) without serving HTTP; pair with SO1_BACKGROUND=worker on the servers."""
    container = _container()
    _log_to_stderr(container.settings.log_level)
    _upgrade(container)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    container.start_background(server=False)
    running = ", ".join(container.job_names) or "nothing (all switched off)"
    engine = f" on {container.job_engine}" if container.job_engine else ""
    typer.echo(f"SO1 worker running{engine}: {running}")
    stop.wait()
    container.close()
    typer.echo("SO1 worker stopped")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
