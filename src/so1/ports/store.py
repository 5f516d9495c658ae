"""The incident record's storage: repositories of the core record, the unit of work, idempotency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from so1.domain.access import ApiKey
from so1.domain.events import DomainEvent
from so1.domain.incidents import Incident, SeverityChange, TimelineEvent
from so1.domain.participants import Participation, Role
from so1.domain.records import AgentRun, AuditRecord
from so1.ports.changes import CatalogRepository, DeploymentRepository, FlagRepository
from so1.ports.comms import OutboxRepository
from so1.ports.intake import AlertRepository, IntakeRepository
from so1.ports.metrics import MetricSampleRepository
from so1.ports.oncall import OnCallRepository
from so1.ports.postmortem import ActionItemRepository, PostmortemRepository
from so1.ports.web import WebRepository


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: Sequence[str] = ()
    severity: Sequence[str] = ()
    service: str | None = None
    limit: int = 50
    offset: int = 0
    include_private: bool = True  # security incidents; False for keys without clearance


class IncidentRepository(Protocol):
    def next_id(self, day: date) -> str: ...
    def add(self, incident: Incident) -> None: ...
    def get(self, incident_id: str, for_update: bool = False) -> Incident | None:
        """``for_update`` locks the row until the transaction ends (PostgreSQL)."""
        ...

    def get_many(self, incident_ids: Sequence[str], for_update: bool = False) -> list[Incident]:
        """``get`` of each that exists, in one query, in no set order."""
        ...

    def update(self, incident: Incident, expected_version: int) -> None:
        """Store ``incident``; raises Conflict if another writer got there first."""
        ...

    def search(self, flt: IncidentFilter) -> tuple[list[Incident], int]: ...
    def add_severity_change(self, change: SeverityChange) -> None: ...
    def severity_changes(self, incident_id: str) -> list[SeverityChange]: ...


class TimelineRepository(Protocol):
    def add(self, event: TimelineEvent) -> None: ...
    def add_many(self, events: Sequence[TimelineEvent]) -> None:
        """``add`` of each, in order, in one round trip."""
        ...

    def for_incident(
        self, incident_id: str, kinds: Sequence[str] | None = None
    ) -> list[TimelineEvent]:
        """In order; only the given kinds when ``kinds`` is set (an index range, not a scan)."""
        ...

    def latest(self, incident_ids: Sequence[str], kind: str) -> dict[str, TimelineEvent]:
        """The last event of ``kind`` on each of these incidents that has one."""
        ...


class ParticipantRepository(Protocol):
    def assume(self, participation: Participation) -> None: ...
    def renounce(self, incident_id: str, handle: str, role: Role, at: datetime) -> int:
        """Close the open holding(s); returns how many were open."""
        ...

    def current(self, incident_id: str, role: Role | None = None) -> list[Participation]: ...
    def history(self, incident_id: str) -> list[Participation]: ...


class AuditRepository(Protocol):
    def add(self, record: AuditRecord) -> None: ...
    def add_many(self, records: Sequence[AuditRecord]) -> None:
        """``add`` of each, in order, in one round trip."""
        ...

    def search(
        self,
        limit: int,
        offset: int,
        actor: str | None = None,
        action: str | None = None,
        include_private: bool = True,
    ) -> list[AuditRecord]:
        """Newest first; ``include_private=False`` leaves out rows about security incidents."""
        ...

    def between(
        self, start: datetime, end: datetime, limit: int, include_private: bool = True
    ) -> list[AuditRecord]:
        """Oldest first."""
        ...


class KeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def get(self, key_id: str) -> ApiKey | None: ...
    def all(self) -> list[ApiKey]: ...
    def revoke(self, key_id: str, at: datetime) -> None: ...
    def expire(self, key_id: str, at: datetime) -> None: ...
    def touch(self, key_id: str, at: datetime) -> None: ...
    def count_usable_admins(self, now: datetime) -> int: ...
    def lock_for_bootstrap(self) -> None:
        """Serialise first-start key creation across processes until the transaction ends."""
        ...


class AgentRunRepository(Protocol):
    def add(self, run: AgentRun) -> None: ...
    def update(self, run: AgentRun) -> None: ...
    def get(self, run_id: str) -> AgentRun | None: ...
    def last_triaged(
        self, incident_ids: Sequence[str], since: datetime
    ) -> dict[tuple[str, str, str], datetime]:
        """When each signal (incident, the alert's service, its metric; "" for none) was last
        triaged for one of these incidents, of the triage runs started since ``since``."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving the block without ``commit()`` rolls back.

    Domain events added during the transaction go to the dispatcher once ``commit()`` has
    made it durable; a transaction that rolls back dispatches none."""

    incidents: IncidentRepository
    timeline: TimelineRepository
    participants: ParticipantRepository
    audit: AuditRepository
    catalog: CatalogRepository
    deployments: DeploymentRepository
    flags: FlagRepository
    keys: KeyRepository
    agent_runs: AgentRunRepository
    alerts: AlertRepository
    intake: IntakeRepository
    action_items: ActionItemRepository
    oncall: OnCallRepository
    outbox: OutboxRepository
    metrics: MetricSampleRepository
    postmortems: PostmortemRepository
    web: WebRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def add_event(self, event: DomainEvent) -> None:
        """Tell ``event`` to the dispatcher after the commit (never if this rolls back)."""
        ...


EventDispatcher = Callable[[Sequence[DomainEvent]], None]
"""Acts on a committed unit of work's events (wakes the jobs they need); never raises."""


class UnitOfWorkFactory(Protocol):
    def __call__(self, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; ``read_only`` lets the database run it beside writers."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: bytes
    content_type: str


class IdempotencyStore(Protocol):
    """Remembers POST responses by (principal, Idempotency-Key) so retries replay them."""

    def claim(self, principal: str, key: str, request_hash: str, now: datetime) -> str | None:
        """Reserve the key; returns None when reserved, else the stored request hash. An
        expired claim (an old answer, or one never answered) is taken over."""
        ...

    def stored(self, principal: str, key: str) -> StoredResponse | None: ...
    def complete(self, principal: str, key: str, response: StoredResponse) -> None: ...
    def release(self, principal: str, key: str) -> None:
        """Forget the claim of a request that failed (never raises: retried later)."""
        ...
