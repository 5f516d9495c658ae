"""Service tests: use cases run against the fakes of every port (tests/fakes), with no
database and no HTTP app. Each builds its world with the services themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from tests.fakes import FakeClock, FakeDatabase

NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
ALICE = Actor("alice-key", key_id="k_alice", person="alice")
BOB = Actor("bob-key", key_id="k_bob", person="bob")


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def open_incident(
    db: FakeDatabase,
    clock: FakeClock,
    title: str = "API error rate spike",
    severity: Severity = Severity.SEV2,
    service: str | None = "control-plane-api",
) -> Incident:
    """An incident recorded (``triggered``) through the service that records them."""
    new = NewIncident(title, severity, service=service, impact={"affected": "workflow executions"})
    return create_incident(db.uow, clock, ALICE, new)
