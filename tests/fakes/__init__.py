"""Fakes of every port (``so1.ports``) and of the service-local protocols, for service tests
without a database or an HTTP app (tests/service/). docs/architecture.md, "Service tests".

- ``unit_of_work``: ``FakeDatabase`` (``db.uow`` is the ``UnitOfWorkFactory``), the unit of
  work with rollback and events after commit, over the repositories of ``incident_repos``,
  ``intake_repos``, ``comms_repos`` and ``record_repos`` (state in ``tables``);
- ``vendors``: war room, status page, pager, platform, health probe, URL guard, metrics
  source, postmortem publisher, calendar writer;
- ``runtime``: clock, job runner, health check, idempotency store, inline background.

tests/contract/test_repository_fakes.py runs the same repository behaviours against these
fakes and the SQL repositories, so the fakes cannot drift from what services rely on.
"""

from tests.fakes.runtime import (
    FakeClock,
    FakeHealthCheck,
    FakeIdempotencyStore,
    FakeJobRunner,
    InlineBackground,
)
from tests.fakes.unit_of_work import FakeDatabase, FakeUnitOfWork
from tests.fakes.vendors import (
    FakeCalendarWriter,
    FakeChat,
    FakeFolder,
    FakeHealthProbe,
    FakeMetricsSource,
    FakePager,
    FakePlatform,
    FakeStatusPage,
    FakeUrlGuard,
)

__all__ = [
    "FakeCalendarWriter",
    "FakeChat",
    "FakeClock",
    "FakeDatabase",
    "FakeFolder",
    "FakeHealthCheck",
    "FakeHealthProbe",
    "FakeIdempotencyStore",
    "FakeJobRunner",
    "FakeMetricsSource",
    "FakePager",
    "FakePlatform",
    "FakeStatusPage",
    "FakeUnitOfWork",
    "FakeUrlGuard",
    "InlineBackground",
]
