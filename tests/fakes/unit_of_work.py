"""The in-memory unit of work: behaves like ``SqlUnitOfWork`` where services depend on it.

A unit of work works on a deep copy of what is committed; ``commit()`` makes its copy the
committed state and only then hands the domain events to the dispatcher; leaving the block
without ``commit()`` drops both. Two units of work open at once each see what was committed
when they began (no dirty reads), as on the real engines."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from so1.domain.events import DomainEvent
from so1.ports import (
    ActionItemRepository,
    AgentRunRepository,
    AlertRepository,
    AuditRepository,
    CatalogRepository,
    DeploymentRepository,
    FlagRepository,
    IncidentRepository,
    IntakeRepository,
    KeyRepository,
    MetricSampleRepository,
    OnCallRepository,
    OutboxRepository,
    ParticipantRepository,
    PostmortemRepository,
    TimelineRepository,
    UnitOfWorkFactory,
    WebRepository,
)
from tests.fakes import comms_repos, incident_repos, intake_repos, record_repos
from tests.fakes.tables import Tables, kept


class FakeDatabase:
    """The committed state, and the domain events dispatched after each commit (in order)."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.dispatched: list[DomainEvent] = []
        self.commits = 0

    def uow(self, read_only: bool = False) -> FakeUnitOfWork:
        """A new unit of work; ``db.uow`` is the ``UnitOfWorkFactory`` services take."""
        return FakeUnitOfWork(self, read_only)

    @property
    def factory(self) -> UnitOfWorkFactory:
        return self.uow

    def dispatch(self, events: Sequence[DomainEvent]) -> None:
        self.dispatched.extend(events)

    def committed(self) -> Tables:
        """A copy of what is committed, for assertions (changing it changes nothing)."""
        return kept(self.tables)


class FakeUnitOfWork:
    """``with uow: ...; uow.commit()``, on a copy of the committed tables."""

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

    def __init__(self, db: FakeDatabase, read_only: bool = False) -> None:
        self._db = db
        self._write = not read_only
        self._events: list[DomainEvent] = []
        self._work: Tables | None = None

    def __enter__(self) -> Self:
        work = self._work = kept(self._db.tables)
        self.incidents = incident_repos.FakeIncidentRepository(work)
        self.timeline = incident_repos.FakeTimelineRepository(work)
        self.participants = incident_repos.FakeParticipantRepository(work)
        self.audit = incident_repos.FakeAuditRepository(work)
        self.keys = incident_repos.FakeKeyRepository(work)
        self.agent_runs = incident_repos.FakeAgentRunRepository(work)
        self.alerts = intake_repos.FakeAlertRepository(work)
        self.intake = intake_repos.FakeIntakeRepository(work)
        self.catalog = record_repos.FakeCatalogRepository(work)
        self.deployments = record_repos.FakeDeploymentRepository(work)
        self.flags = record_repos.FakeFlagRepository(work)
        self.action_items = record_repos.FakeActionItemRepository(work)
        self.metrics = record_repos.FakeMetricSampleRepository(work)
        self.postmortems = record_repos.FakePostmortemRepository(work)
        self.web = record_repos.FakeWebRepository(work)
        self.oncall = comms_repos.FakeOnCallRepository(work)
        self.outbox = comms_repos.FakeOutboxRepository(work)
        return self

    def add_event(self, event: DomainEvent) -> None:
        assert self._write, "a read-only unit of work changes nothing to tell"
        self._events.append(event)

    def commit(self) -> None:
        assert self._work is not None, "commit() outside of a `with` block"
        self._db.tables = kept(self._work)
        self._db.commits += 1
        events, self._events = self._events, []
        if events:
            self._db.dispatch(events)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work = None
        self._events = []
