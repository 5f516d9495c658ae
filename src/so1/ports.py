"""Ports: the interfaces services call and adapters implement (typing.Protocol, no I/O here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from so1.domain.access import ApiKey
from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus
from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FeatureFlag, FlagChange
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident, SeverityChange, TimelineEvent
from so1.domain.intake import CorrelationRule, Delivery, DeliveryOutcome, Integration, Silence
from so1.domain.metrics import Sample, Series
from so1.domain.oncall import EscalationPolicy, Person, Schedule, Shift, Team, Window
from so1.domain.participants import Participation, Role
from so1.domain.records import AgentRun, AuditRecord
from so1.ports_postmortem import ActionItemRepository, PostmortemRepository
from so1.ports_web import WebRepository


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: Sequence[str] = ()
    severity: Sequence[str] = ()
    service: str | None = None
    limit: int = 50
    offset: int = 0


class IncidentRepository(Protocol):
    def next_id(self, day: date) -> str: ...
    def add(self, incident: Incident) -> None: ...
    def get(self, incident_id: str, for_update: bool = False) -> Incident | None:
        """``for_update`` locks the row until the transaction ends (PostgreSQL)."""
        ...

    def update(self, incident: Incident, expected_version: int) -> None:
        """Store ``incident``; raises Conflict if another writer got there first."""
        ...

    def search(self, flt: IncidentFilter) -> tuple[list[Incident], int]: ...
    def add_severity_change(self, change: SeverityChange) -> None: ...
    def severity_changes(self, incident_id: str) -> list[SeverityChange]: ...


class TimelineRepository(Protocol):
    def add(self, event: TimelineEvent) -> None: ...
    def for_incident(
        self, incident_id: str, kinds: Sequence[str] | None = None
    ) -> list[TimelineEvent]:
        """In order; only the given kinds when ``kinds`` is set (an index range, not a scan)."""
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
    def search(
        self, limit: int, offset: int, actor: str | None = None, action: str | None = None
    ) -> list[AuditRecord]: ...
    def between(self, start: datetime, end: datetime, limit: int) -> list[AuditRecord]:
        """Oldest first."""
        ...


class CatalogRepository(Protocol):
    def get(self, name: str) -> CatalogService | None: ...
    def upsert(self, service: CatalogService) -> bool:
        """Insert or replace; True when the service is new."""
        ...

    def all(self) -> list[CatalogService]: ...


class DeploymentRepository(Protocol):
    def add(self, deployment: Deployment) -> Deployment: ...
    def recent(self, since: datetime, service: str | None) -> list[Deployment]:
        """Newest first, each with ``previous_version`` of the same service filled in."""
        ...


class FlagRepository(Protocol):
    def get(self, key: str) -> FeatureFlag | None: ...
    def upsert(self, flag: FeatureFlag) -> None: ...
    def all(self) -> list[FeatureFlag]: ...
    def add_change(self, change: FlagChange) -> None: ...
    def changes(self, key: str) -> list[FlagChange]: ...
    def changes_since(self, since: datetime) -> list[tuple[FlagChange, str | None]]:
        """Every flip since then with the flag's service, oldest first."""
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


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: Sequence[str] = ()
    source: str | None = None
    service: str | None = None
    incident_id: str | None = None
    limit: int = 50
    offset: int = 0


class AlertRepository(Protocol):
    def trigger(self, event: AlertEvent, new_id: str, at: datetime, **extra: Any) -> Alert:
        """Open a new alert or count a duplicate of the open one with the same identity."""
        ...

    def transition(
        self, source: AlertSource, dedup_key: str, to: AlertStatus, at: datetime
    ) -> Alert | None:
        """Acknowledge or resolve the open alert with that identity; None when none is open."""
        ...

    def set_status(self, alert_id: str, to: AlertStatus, at: datetime) -> Alert | None: ...
    def find(self, source: AlertSource, dedup_key: str) -> Alert | None:
        """The open alert with this identity, else the most recently resolved one."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...
    def search(self, flt: AlertFilter) -> tuple[list[Alert], int]: ...
    def last_resolved(self, source: AlertSource, dedup_key: str) -> Alert | None: ...
    def set_flaps(self, alert_id: str, flap_count: int) -> None: ...
    def claim_pending(
        self, limit: int, now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        """Pending alerts, and (unless ``stale_before`` is None) claims older than it."""

    def finish_triage(self, alert_id: str, state: str, run_id: str | None = None) -> None: ...
    def finish_many(self, alert_ids: Sequence[str], state: str) -> None: ...
    def close(self, alert_id: str, at: datetime, reason: str) -> None: ...
    def attach(self, alert_ids: Sequence[str], incident_id: str) -> None: ...
    def recent(self, services: Sequence[str], since: datetime) -> list[Alert]:
        """Alerts on these services last seen since ``since``, newest first."""
        ...

    def open_incident_for(self, services: Sequence[str], since: datetime) -> str | None:
        """The newest open incident holding an alert on these services seen since then."""
        ...

    def count_for_incident(self, incident_id: str) -> int: ...
    def count_by_service(self, incident_id: str) -> dict[str, int]: ...
    def first_acknowledged(self, incident_id: str) -> Alert | None:
        """The incident's alert acknowledged earliest, if any was."""
        ...

    def first_seen_since(self, since: datetime, limit: int) -> list[Alert]:
        """Alerts first seen since then, oldest first (for correlation dry runs)."""
        ...

    def triage_state(self, alert_id: str) -> str | None: ...
    def triage_run_id(self, alert_id: str) -> str | None: ...


class IntakeRepository(Protocol):
    """Integrations, raw deliveries, correlation rules and silences."""

    def add_integration(self, integration: Integration) -> None: ...
    def integration(self, integration_id: str) -> Integration | None: ...
    def integrations(self, source: AlertSource | None = None) -> list[Integration]: ...
    def update_integration(self, integration: Integration) -> None: ...
    def add_delivery(self, delivery: Delivery) -> int | None:
        """The new delivery's id; None when ``delivery_key`` was seen before for the source."""
        ...

    def add_unkeyed_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Store deliveries that carry no redelivery key, in one statement."""
        ...

    def set_delivery_outcome(
        self, delivery_id: int, outcome: DeliveryOutcome, detail: str
    ) -> None: ...
    def rules(self) -> list[CorrelationRule]: ...
    def put_rule(self, rule: CorrelationRule, at: datetime) -> CorrelationRule: ...
    def add_silence(self, silence: Silence) -> Silence: ...
    def silences(self, active_at: datetime | None = None) -> list[Silence]: ...
    def expire_silence(self, silence_id: int, at: datetime) -> bool: ...
    def lock_correlation(self) -> None:
        """Serialise correlation decisions across processes until the transaction ends."""
        ...


class OnCallRepository(Protocol):
    """People, teams, schedules with overrides, time off, escalation policies. ``upsert_*``
    return True when the row is new; list calls take optional names to filter on."""

    def upsert_team(self, team: Team, at: datetime) -> bool: ...
    def team(self, name: str) -> Team | None: ...
    def teams(self, names: list[str] | None = None) -> list[Team]: ...
    def upsert_person(self, person: Person, at: datetime) -> bool: ...
    def person(self, handle: str) -> Person | None: ...
    def people(self, handles: list[str] | None = None) -> list[Person]: ...
    def upsert_schedule(self, schedule: Schedule, at: datetime) -> bool: ...
    def schedules(
        self, overrides_after: datetime, names: list[str] | None = None
    ) -> list[Schedule]: ...
    def add_override(self, schedule: str, window: Window, at: datetime) -> Window: ...
    def remove_override(self, schedule: str, override_id: int) -> bool: ...
    def add_time_off(self, window: Window, at: datetime) -> Window: ...
    def remove_time_off(self, time_off_id: int) -> bool: ...
    def time_off(self, ends_after: datetime) -> list[Window]: ...
    def upsert_policy(self, policy: EscalationPolicy, at: datetime) -> bool: ...
    def policies(self, names: list[str] | None = None) -> list[EscalationPolicy]: ...


class OutboxRepository(Protocol):
    def add(self, message: Outbound) -> Outbound: ...
    def any_due(self, now: datetime) -> bool: ...
    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Outbound]: ...
    def mark_sent(self, message_id: int, at: datetime, payload: dict[str, Any]) -> None: ...
    def by_vendor_ref(self, ref: str) -> Outbound | None:
        """The message the vendor knows as ``ref`` (e.g. ``slack:C123:1705329900.000100``)."""
        ...

    def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None: ...
    def for_incident(
        self, incident_id: str, destination: Destination | None = None
    ) -> list[Outbound]: ...
    def sent_to(self, destination: Destination, since: datetime) -> list[Outbound]: ...
    def claim_alarm(self, incident_id: str, check_id: str, occurrence: int, at: datetime) -> bool:
        """Record that a late check was escalated; False if someone already did."""
        ...


class Messenger(Protocol):
    """Delivers one outbound message (war room, status page or pager adapter).

    Returns vendor facts to keep (message ts, their incident id ...), merged into the
    message's payload. Raises RateLimited / Unavailable (retried later) or Rejected / AuthFailed
    (given up: a person must fix the set-up)."""

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]: ...


class MetricSampleRepository(Protocol):
    def add(self, samples: Sequence[Sample]) -> None: ...
    def range(self, service: str, metric: str, start: datetime, end: datetime) -> Series: ...
    def purge_before(self, cutoff: datetime) -> int: ...


class MetricsSource(Protocol):
    """Where service metrics are read: samples pushed to SO1, or a Prometheus server."""

    def series(
        self, service: CatalogService, metric: str, start: datetime, end: datetime, step: int
    ) -> Series:
        """``metric`` of ``service`` from ``start`` to ``end``, one point per ``step``
        seconds at most; raises Unavailable when the source cannot answer."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving the block without ``commit()`` rolls back."""

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
        """Reserve the key; returns None when reserved, else the stored request hash."""
        ...

    def stored(self, principal: str, key: str) -> StoredResponse | None: ...
    def complete(self, principal: str, key: str, response: StoredResponse) -> None: ...
    def release(self, principal: str, key: str) -> None: ...


class HealthCheck(Protocol):
    def __call__(self) -> str:
        """'ok' or a short reason the dependency is unhealthy."""
        ...


HealthChecks = Mapping[str, HealthCheck]


class Agent(Protocol):
    """Agents decide without I/O: inputs and a read-only view of state in, a report out."""

    name: str

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]: ...


class CalendarWriter(Protocol):
    def shifts(
        self, title: str, shifts: Sequence[Shift], people: Mapping[str, Person], stamp: datetime
    ) -> bytes:
        """An iCalendar file with one event per covered shift."""
        ...


@dataclass(frozen=True)
class Job:
    """One kind of background work. ``run`` does one pass over what is due (the queues are
    tables, so a pass is safe to repeat and to run in several processes); it runs every
    ``every_seconds`` and as soon as it is woken. ``serial``: never two passes at once."""

    name: str
    run: Callable[[], None]
    every_seconds: int
    serial: bool = False


class JobRunner(Protocol):
    """Runs Jobs: the in-process runner (threads) or a job engine (procrastinate)."""

    def start(self) -> None: ...

    def wake(self, name: str) -> None:
        """New work for ``name`` was committed: run a pass soon. Never blocks on I/O."""
        ...

    def stop(self) -> None: ...
