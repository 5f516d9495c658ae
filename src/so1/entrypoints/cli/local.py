"""Commands that work on a database directly: serve, worker, db upgrade (and, through
``open_database``, `so1 keys create` without SO1_API_URL and `so1 security seal-secrets`).

Each says which database it uses, and none creates a SQLite file unannounced: the ones whose
job it is (serve, db upgrade, the first key) say they are creating it, the others refuse."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from so1.adapters.db import migrate
from so1.adapters.jobs import wake_socket
from so1.adapters.jobs.child import wake_from_lines
from so1.bootstrap import Container, build_container, triage_child_env
from so1.config import Settings, load_settings
from so1.entrypoints.cli import server_group
from so1.entrypoints.cli.output import console, fail, note
from so1.entrypoints.heap import freeze_startup_heap
from so1.errors import So1Error
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor

CLI_ACTOR = Actor(name="cli")

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


def _container(settings: Settings, role: str) -> Container:
    """The container, or one line naming the setting that cannot work (checked here, once)."""
    try:
        return build_container(settings, role=role)
    except So1Error as exc:  # a setting that cannot work: SO1_RAILWAY_TOKEN, SO1_SECRET_KEY...
        fail(exc.detail)
    except (ValueError, SQLAlchemyError) as exc:
        fail(f"cannot open the database: {exc}")


def _settings() -> Settings:
    """The settings, or one line naming the variable that cannot work."""
    try:
        return load_settings()
    except So1Error as exc:
        fail(exc.detail)


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    url = make_url(database_url)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:") or url.query.get("uri"):
        return None  # a SQLite URI: its own rules
    return Path(name).absolute()


def open_database(
    command: str, *, create: bool, role: str = "cli", announce: bool = True
) -> Container:
    """A container on SO1_DATABASE_URL, named on stderr (unless ``announce`` is off: a child
    of `so1 serve`, which named it already). A SQLite file that does not exist yet is created
    only with ``create`` (and said so); otherwise the command stops. ``role`` names its
    PostgreSQL connections (see adapters/db/capacity.py)."""
    settings = _settings()
    try:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        new_file = sqlite_file(settings.database_url)
    except ArgumentError:
        fail(f"SO1_DATABASE_URL is not a database URL: {settings.database_url!r}")
    if new_file is not None and new_file.exists():
        new_file = None
    if new_file is None:
        if announce:
            note(f"database: {shown}")
    elif create:
        note(f"database: {shown} (a new SQLite file, created now: {new_file})")
    else:
        fail(
            f"no database at {new_file}: `so1 {command}` creates none. Run it where `so1 serve`"
            " keeps its database, or set SO1_DATABASE_URL (client commands use SO1_API_URL)"
        )
    return _container(settings, role)


def warn_if_connections_do_not_fit(container: Container, processes: int, what: str) -> None:
    """PostgreSQL: one line when this command's processes would not fit max_connections."""
    try:
        warning = container.connections_warning(processes, what)
    except SQLAlchemyError as exc:  # pg_stat_activity unreadable: say so, start anyway
        warning = f"could not check PostgreSQL's max_connections: {exc.__class__.__name__}"
    if warning:
        typer.echo(f"warning: {warning}", err=True)  # one line, never wrapped


def _upgrade(container: Container, *, announce: bool = True) -> None:
    url = container.engine.url.render_as_string(hide_password=True)
    try:
        migrate.upgrade(container.engine)
    except SQLAlchemyError as exc:
        fail(f"cannot migrate {url}: {exc.__class__.__name__}: {exc.args[0] if exc.args else exc}")
    if announce:
        note(f"schema at revision {migrate.current_revision(container.engine)}")


def upgrade_if_behind(container: Container) -> None:
    if migrate.current_revision(container.engine) != migrate.head_revision():
        _upgrade(container)


def _server_processes(container: Container, servers: int, group: bool) -> tuple[int, str]:
    """How many processes `so1 serve` starts, its triage processes included (one for a
    group, else one beside each server), and how the connections warning names them."""
    if not container.triage_child_wanted():
        return servers, f"server ({servers} processes)"
    triage = 1 if group else servers
    return servers + triage, f"server ({servers} processes, {triage} triage)"


def client_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server bound to ``host``."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def serve(
    host: Annotated[str | None, typer.Option(help="address to bind [SO1_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind [SO1_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="server processes [SO1_WORKERS]")] = None,
) -> None:
    """Migrate the database, then serve the API and web pages."""
    settings = _settings()
    host, port = host or settings.host, port or settings.port
    container = open_database("serve", create=True)
    _upgrade(container)
    processes = workers or settings.workers
    group = processes > 1 and server_group.available()
    warn_if_connections_do_not_fit(container, *_server_processes(container, processes, group))
    if settings.bootstrap_admin_key:
        issued = access.ensure_admin_key(container.uow, container.clock)
        if issued is not None:
            console.print("First start: created an admin API key. It is shown only this once:")
            typer.echo(f"  {issued.token}")
            console.print(
                "  export SO1_API_KEY=<that key>; more with `so1 keys create --name NAME`"
            )
    if group:
        server_group.check_port(host, port)
    triage_env = triage_child_env(settings) if group and container.triage_child_wanted() else None
    container.close()
    base = client_url(host, port)

    def announce() -> None:
        typer.echo(f"SO1 serving on {base}  (API docs: {base}/docs, health: {base}/v1/health)")
        if base != settings.api_url.rstrip("/"):
            typer.echo(f"The CLI calls {settings.api_url}; point it here with:")
            typer.echo(f"  export SO1_API_URL={base}")

    if group:  # Linux: one SO_REUSEPORT socket per process, the kernel balances connections
        typer.echo(f"{processes} server processes share the port (--workers, SO1_WORKERS)")
        probe = urlsplit(base)
        server_group.run(
            server_group.members(host, port, processes, triage_env),
            ready=lambda: server_group.answers(probe.hostname or host, port),
            announce=announce,
        )
        return
    announce()
    uvicorn.run(
        "so1.entrypoints.api.app:create_default_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level=settings.log_level,
        access_log=False,  # the app writes its own (entrypoints/api/access_log.py)
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run while servers start)."""
    container = open_database("db upgrade", create=True)
    _upgrade(container)
    container.close()


def _log_to_stderr(level: str) -> None:
    """Warnings and failed passes reach the terminal; procrastinate's line per job and
    alembic's notes only at debug level."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level.lower() != "debug":
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        # the schema check before the banner says its result itself ("schema at revision")
        logging.getLogger("alembic").setLevel(logging.WARNING)


def worker(
    wake_from_stdin: Annotated[
        bool,
        typer.Option(
            "--wake-from-stdin",
            help="run the jobs in threads, woken by job names on stdin, and stop at its end"
            " (how `so1 serve` runs its triage process)",
        ),
    ] = False,
    wake_from_socket: Annotated[
        str | None,
        typer.Option(
            hidden=True,
            help="run the jobs in threads, woken by datagrams at this address, and stop when"
            " the parent is gone (the triage process of `so1 serve --workers N` on Linux)",
        ),
    ] = None,
) -> None:
    """Run the background work (triage, delivery of messages and pages, runbook clocks and
    escalation) without serving HTTP; pair with SO1_BACKGROUND=worker on the servers."""
    # `so1 serve`'s triage child: the server has named the database and migrated it already
    child = wake_from_stdin or wake_from_socket is not None
    container = open_database("worker", create=False, role="worker", announce=not child)
    _log_to_stderr(container.settings.log_level)
    _upgrade(container, announce=not child)
    if not child:  # `so1 serve` counted its triage process in its own warning
        warn_if_connections_do_not_fit(container, 1, "worker")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    container.start_background(server=False, threads=child)
    freeze_startup_heap()
    if wake_from_stdin:
        wake_from_lines(sys.stdin.buffer, container.jobs.dispatcher.wake, stop)
    elif wake_from_socket is not None:
        _wake_from_socket(container, wake_from_socket, stop)
    running = ", ".join(container.jobs.names) or "nothing (all switched off)"
    engine = f" on {container.jobs.engine}" if container.jobs.engine else ""
    if child:
        note(f"triage process {os.getpid()} running beside the server: {running}")
    else:
        typer.echo(f"SO1 worker running{engine}: {running}")
    stop.wait()
    container.close()
    typer.echo("SO1 worker stopped")


def _wake_from_socket(container: Container, address: str, stop: threading.Event) -> None:
    try:
        sock = wake_socket.bind(address)
    except OSError as exc:
        container.close()
        fail(f"cannot bind the wake-up socket {address}: {exc}")
    jobs = container.jobs
    wake_socket.wake_from_datagrams(
        sock, jobs.dispatcher.wake, lambda: jobs.names, stop, os.getppid()
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(db_app, name="db")
