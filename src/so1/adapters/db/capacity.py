"""Whether SO1's PostgreSQL connections fit the server's max_connections.

Every SO1 process names its connections ``so1 <role> <host>:<pid> pool=<N>``
(application_name, seen in pg_stat_activity), N being the most it may open
(SO1_DB_POOL_SIZE). At start, `so1 serve` and `so1 worker` read max_connections and those
names, and warn in one line when the other SO1 processes' budgets, the other clients'
connections and their own would not fit."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from so1.config import Settings
from so1.config_check import variable
from so1.errors import ConfigurationError

_NAME = re.compile(r"^so1 \S+ (?P<host>\S+):(?P<pid>\d+) pool=(?P<pool>\d+)$")
_HOST_CHARS = 32  # application_name keeps 63 characters


# The job engine's connections (procrastinate, PostgreSQL only), counted in SO1_DB_POOL_SIZE:
DEFER_POOL = 1  # an API server with SO1_BACKGROUND=worker only defers jobs
WORKER_POOL = 2  # a worker's pool, besides one LISTEN connection per job it runs
WORKER, SERVER = "worker", "serve"


@dataclass(frozen=True)
class Budget:
    """How one process splits SO1_DB_POOL_SIZE: the job engine's pool and LISTEN
    connections, and SQLAlchemy's pool (everything else: requests, passes, the writer)."""

    job_pool: int
    listeners: int
    engine_pool: int


def split_pool(settings: Settings, role: str) -> Budget:
    """This process's budget; ConfigurationError naming SO1_DB_POOL_SIZE when it is too
    small for the job engine plus one connection (a worker: one per pass at once)."""
    total = settings.db_pool_size
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return Budget(0, 0, total)
    jobs = {
        "triage": settings.triage_worker,
        "delivery": settings.delivery_worker,
        "clocks": settings.runbook_clocks,
    }
    running = [kind for kind, on in jobs.items() if on]
    if role == WORKER:
        budget = Budget(WORKER_POOL, len(running), total - WORKER_POOL - len(running))
        needed = sum(settings.concurrency[kind] for kind in running) or 1
    elif settings.background == "worker":
        budget, needed = Budget(DEFER_POOL, 0, total - DEFER_POOL), 1
    else:
        budget, needed = Budget(0, 0, total), 1
    if budget.engine_pool < needed:
        name = variable("db_pool_size")
        least = total - budget.engine_pool + needed
        raise ConfigurationError(
            f"{name}={total} is too small for this {role}: the job engine takes"
            f" {total - budget.engine_pool} and its passes need {needed} more (at least"
            f" {least}; see SO1_WORKER_CONCURRENCY)",
            name,
        )
    return budget


def this_process() -> tuple[str, int]:
    return socket.gethostname()[:_HOST_CHARS], os.getpid()


def application_name(role: str, pool: int) -> str:
    """How this process's connections are named, its budget included."""
    host, pid = this_process()
    return f"so1 {role} {host}:{pid} pool={pool}"


@dataclass(frozen=True)
class Room:
    """What the server allows and who else holds or may open connections."""

    max_connections: int
    reserved: int  # for superusers (and pg_use_reserved_connections on PostgreSQL 16+)
    other_so1: dict[tuple[str, int], int]  # (host, pid) → the most that process may open
    other_clients: int  # open connections that are not SO1's

    def warning(self, own: int, what: str) -> str | None:
        """One line when ``own`` more connections would not fit; None when they do."""
        usable = self.max_connections - self.reserved
        others = sum(self.other_so1.values())
        total = others + self.other_clients + own
        if total <= usable:
            return None
        return (
            f"PostgreSQL connections will not fit: max_connections={self.max_connections}"
            f" ({self.reserved} reserved) leaves {usable}; {len(self.other_so1)} other SO1"
            f" processes may open {others}, other clients hold {self.other_clients}, this"
            f" {what} may open {own}: {total} in all. Lower SO1_DB_POOL_SIZE, run fewer"
            " processes, raise max_connections, or put PgBouncer in front (docs/scaling.md)"
        )


def read_room(engine: Engine) -> Room:
    """max_connections and the other connections, this process's own left out."""
    me = this_process()
    with engine.connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
        reserved = sum(
            int(
                conn.execute(
                    text(f"SELECT coalesce(current_setting('{name}', true), '0')")
                ).scalar_one()
            )
            for name in ("superuser_reserved_connections", "reserved_connections")
        )
        rows = conn.execute(
            text(
                "SELECT coalesce(application_name, '') FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        ).all()
    so1: dict[tuple[str, int], int] = {}
    clients = 0
    for (name,) in rows:
        found = _NAME.match(str(name))
        if found is None:
            clients += 1
            continue
        process = (found["host"], int(found["pid"]))
        if process != me:
            so1[process] = int(found["pool"])
    return Room(limit, reserved, so1, clients)
