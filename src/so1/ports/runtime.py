"""What the process runs on: the clock, health checks, agents, background jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

InputsT_contra = TypeVar("InputsT_contra", contravariant=True)
ReportT_co = TypeVar("ReportT_co", covariant=True)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class HealthCheck(Protocol):
    def __call__(self) -> str:
        """'ok' (perhaps followed by a note: "ok (restarts: 1; ...)") or a short reason the
        dependency is unhealthy."""
        ...


HealthChecks = Mapping[str, HealthCheck]


class TypedAgent(Protocol[InputsT_contra, ReportT_co]):
    """Agents decide without I/O: inputs and a read-only view of state in, a report out. Each
    agent declares its inputs and its report as frozen dataclasses (``agents/<phase>/contract``)
    that services build from domain objects and read by attribute."""

    name: str

    def run(self, inputs: InputsT_contra, /) -> ReportT_co: ...


class Agent(Protocol):
    """An agent whose inputs and report are JSON objects: the triage-responder (until its
    contract is typed) and agents registered at run time."""

    name: str

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Job:
    """One kind of background work. ``run`` does one pass over what is due (the queues are
    tables, so a pass is safe to repeat and to run in several processes); it runs every
    ``every_seconds`` and as soon as it is woken. ``serial``: never two passes at once.
    ``concurrency``: at most this many passes at once in one process, in slots of its own, so
    a job whose passes are slow (delivery to a vendor that hangs) never holds up another."""

    name: str
    run: Callable[[], None]
    every_seconds: int
    serial: bool = False
    concurrency: int = 1


@dataclass(frozen=True)
class JobState:
    """How one job fares in this process: its passes, the last one's outcome, and whether
    its runner is alive (a thread that died, an engine that stopped)."""

    name: str
    alive: bool
    passes: int = 0
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_error: str | None = None  # the last pass's failure; None after a pass that worked
    failures_in_a_row: int = 0


@dataclass(frozen=True)
class Backlog:
    """Work waiting in one of the queues the jobs empty: how much, and since when."""

    waiting: int
    oldest: datetime | None


class JobRunner(Protocol):
    """Runs Jobs: the in-process runner (threads) or a job engine (procrastinate)."""

    def start(self) -> None: ...

    def states(self) -> list[JobState]:
        """The jobs this process runs (none when it only hands work to other processes)."""
        ...

    def wake(self, name: str) -> None:
        """New work for ``name`` was committed: run a pass soon. Never blocks on I/O."""
        ...

    def stop(self) -> None: ...
