"""SQL unit of work: one connection, one transaction, every repository bound to it; the
domain events collected meanwhile go to the dispatcher after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, RootTransaction

from so1.adapters.db.access_repos import SqlAgentRunRepository, SqlAuditRepository, SqlKeyRepository
from so1.adapters.db.action_item_repo import SqlActionItemRepository
from so1.adapters.db.alert_repo import SqlAlertRepository
from so1.adapters.db.change_repos import (
    SqlCatalogRepository,
    SqlDeploymentRepository,
    SqlFlagRepository,
)
from so1.adapters.db.comms_repo import SqlOutboxRepository
from so1.adapters.db.engine import WRITE_OPTION, sqlite_write_lock
from so1.adapters.db.incident_repo import (
    SqlIncidentRepository,
    SqlParticipantRepository,
    SqlTimelineRepository,
)
from so1.adapters.db.intake_repo import SqlIntakeRepository
from so1.adapters.db.metrics_repo import SqlMetricSampleRepository
from so1.adapters.db.oncall_repo import SqlOnCallRepository
from so1.adapters.db.postmortem_repo import SqlPostmortemRepository
from so1.adapters.db.secret_box import SecretBox
from so1.adapters.db.web_repo import SqlWebRepository
from so1.domain.events import DomainEvent
from so1.errors import Unavailable
from so1.ports import (
    ActionItemRepository,
    AgentRunRepository,
    AlertRepository,
    AuditRepository,
    CatalogRepository,
    DeploymentRepository,
    EventDispatcher,
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
    WebRepository,
)

_LOCK_WAIT_SECONDS = 30  # same as SQLite's busy timeout


def _no_dispatch(events: Sequence[DomainEvent]) -> None:
    """Without a dispatcher (tools, tests of one repository) the jobs' polling finds the work."""


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()``; leaving without commit rolls everything back, and
    drops the events added meanwhile."""

    def __init__(
        self,
        engine: Engine,
        read_only: bool = False,
        box: SecretBox | None = None,
        dispatch: EventDispatcher = _no_dispatch,
    ) -> None:
        self._engine = engine
        self._box = box or SecretBox()
        self._write = not read_only
        self._dispatch = dispatch
        self._events: list[DomainEvent] = []
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        self._lock = sqlite_write_lock(engine) if self._write else None

    def __enter__(self) -> Self:
        if self._lock is not None and not self._lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            raise Unavailable("the database is busy with other writes; retry shortly")
        try:
            self._open()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return self

    def _open(self) -> None:
        conn = self._engine.connect().execution_options(**{WRITE_OPTION: self._write})
        self._conn = conn
        self._tx = conn.begin()
        self.incidents: IncidentRepository = SqlIncidentRepository(conn)
        self.timeline: TimelineRepository = SqlTimelineRepository(conn)
        self.participants: ParticipantRepository = SqlParticipantRepository(conn)
        self.audit: AuditRepository = SqlAuditRepository(conn)
        self.catalog: CatalogRepository = SqlCatalogRepository(conn)
        self.deployments: DeploymentRepository = SqlDeploymentRepository(conn)
        self.flags: FlagRepository = SqlFlagRepository(conn)
        self.keys: KeyRepository = SqlKeyRepository(conn)
        self.agent_runs: AgentRunRepository = SqlAgentRunRepository(conn)
        self.alerts: AlertRepository = SqlAlertRepository(conn)
        self.intake: IntakeRepository = SqlIntakeRepository(conn, self._box)
        self.action_items: ActionItemRepository = SqlActionItemRepository(conn)
        self.oncall: OnCallRepository = SqlOnCallRepository(conn)
        self.outbox: OutboxRepository = SqlOutboxRepository(conn)
        self.metrics: MetricSampleRepository = SqlMetricSampleRepository(conn)
        self.postmortems: PostmortemRepository = SqlPostmortemRepository(conn)
        self.web: WebRepository = SqlWebRepository(conn, self._box)

    def add_event(self, event: DomainEvent) -> None:
        assert self._write, "a read-only unit of work changes nothing to tell"
        self._events.append(event)

    def commit(self) -> None:
        assert self._tx is not None, "commit() outside of a `with` block"
        self._tx.commit()
        events, self._events = self._events, []
        if events:
            self._dispatch(events)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
            if self._conn is not None:
                self._conn.close()
        finally:
            self._conn = self._tx = None
            self._events = []
            if self._lock is not None:
                self._lock.release()
