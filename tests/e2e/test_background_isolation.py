"""Background passes take each incident on its own: a broken one (a corrupt record, a
template error) is logged with its id and skipped, and every other incident still gets its
alarms, escalations, health readings, reminders and postmortem draft."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from so1.adapters.clock import FixedClock
from so1.adapters.db.tables import agent_runs
from so1.agents.postmortem.contract import PostmortemDraft, PostmortemInputs
from so1.agents.registry import AnalystAgent
from so1.bootstrap import Container
from so1.domain.health import HealthReading
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.records import RunStatus
from so1.domain.severity import Severity
from so1.ports import UnitOfWork
from so1.services.background import ClockPass, JobSettings
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from so1.services.postmortem.drafting import RETRY_FAILED_AFTER, draft_missing
from tests.e2e.test_api_commander import SEED_INPUTS
from tests.e2e.test_api_oncall import example

GOOD, BROKEN = "control-plane-api", "billing-api"


class _Poisoned:
    """A repository whose every call about a poisoned key (an incident id, a service name)
    fails, as a call about a corrupt record would."""

    def __init__(self, inner: object, keys: frozenset[str]) -> None:
        self._inner, self._keys = inner, keys

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            if any(self._mentions(a) for a in (*args, *kwargs.values())):
                raise RuntimeError(f"corrupt record met in {name}")
            return found(*args, **kwargs)

        return call

    def _mentions(self, value: object) -> bool:
        if isinstance(value, str):
            return value in self._keys
        return any(getattr(value, f, None) in self._keys for f in ("id", "incident_id", "service"))


class PoisonedUow:
    """The real unit of work, with every repository poisoned for ``keys``."""

    def __init__(self, inner: UnitOfWork, keys: frozenset[str]) -> None:
        self._inner, self._keys = inner, keys

    def __enter__(self) -> PoisonedUow:
        self._inner.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.__exit__(kind, exc, tb)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name in ("commit", "rollback", "add_event"):
            return found
        return _Poisoned(found, self._keys)


def poisoned(container: Container, *keys: str) -> Any:
    def factory(read_only: bool = False) -> PoisonedUow:
        return PoisonedUow(container.uow(read_only=read_only), frozenset(keys))

    return factory


class Probe:
    """Every service's health check answers 503."""

    def check(self, url: str) -> HealthReading:
        return HealthReading(False, f"503 from {url}")


def declared(api: TestClient, container: Container, service: str) -> Incident:
    """An open incident on ``service``, declared with the commander's page (the escalation
    policy starts), with an overdue action item."""
    incident = create_incident(
        container.uow,
        container.clock,
        Actor("test"),
        NewIncident(f"{service} errors", Severity.SEV2, service=service),
    )
    inputs = {**SEED_INPUTS, "incident_id": incident.id, "commander": None, "channel": None}
    run = api.post("/v1/orchestrate", json={"agent": "incident-commander", "inputs": inputs})
    assert run.status_code == 200, run.text
    with container.uow() as uow:
        due = container.clock.now().date() - timedelta(days=1)
        uow.action_items.add(incident.id, "Add monitoring", "bo", due, "P1", container.clock.now())
        uow.commit()
    return incident


def kinds(api: TestClient, incident: Incident) -> list[str]:
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    messages = api.get(f"/v1/incidents/{incident.id}/messages").json()
    return [e["kind"] for e in events] + [f"message:{m['kind']}" for m in messages]


def failures(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{what} failed")]


def test_one_broken_incident_never_stops_a_clocks_pass_for_the_others(
    quiet_api: TestClient, container: Container, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_api.put("/v1/oncall/config", json=example())
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))  # oncall-backend primary, bo secondary
    for service in (BROKEN, GOOD):  # the broken one comes first in every loop
        owned = {"tier": "critical", "owner_team": "backend", "health_url": f"http://{service}/h"}
        assert quiet_api.put(f"/v1/services/{service}", json=owned).status_code in (200, 201)
    broken = declared(quiet_api, container, BROKEN)
    good = declared(quiet_api, container, GOOD)
    before = {i.id: kinds(quiet_api, i) for i in (broken, good)}
    clock.advance(timedelta(minutes=6))  # checks late, escalation level 1 due

    caplog.set_level(logging.ERROR, "so1")
    factory = poisoned(container, broken.id, BROKEN)
    ClockPass(factory, clock, JobSettings(), None, None, Probe())()

    new = [k for k in kinds(quiet_api, good) if k not in before[good.id]]
    assert "runbook.late" in new  # the clocks
    assert "escalation.step" in new  # the escalation policy
    assert "health.changed" in new  # the health probe
    assert "message:reminder" in new  # the overdue action item
    assert kinds(quiet_api, broken) == before[broken.id]
    for stage in ("runbook clocks", "escalation", "action item reminder"):
        assert any(broken.id in line for line in failures(caplog, stage)), stage
    assert any(BROKEN in line for line in failures(caplog, "health probe"))


class FailsFor:
    """The postmortem-analyst, failing on one incident as a template error would."""

    name = "postmortem-analyst"

    def __init__(self, agent: AnalystAgent, broken: Iterable[str]) -> None:
        self.agent, self.broken = agent, set(broken)

    def run(self, inputs: PostmortemInputs) -> PostmortemDraft:
        if inputs.request.incident_id in self.broken:
            raise KeyError("'dict object' has no attribute 'confirmed_by'")
        return self.agent.run(inputs)


def resolved(api: TestClient, container: Container, clock: FixedClock, title: str) -> str:
    incident_id = create_incident(
        container.uow, container.clock, Actor("t"), NewIncident(title, Severity.SEV3)
    ).id
    assert api.patch(f"/v1/incidents/{incident_id}", json={"status": "resolved"}).status_code == 200
    clock.advance(timedelta(minutes=1))  # oldest first: a fixed order
    return incident_id


def failed_runs(container: Container, incident_id: str) -> list[str]:
    """The errors of the postmortem-analyst's failed runs on the incident."""
    runs = agent_runs.c
    query = select(runs.error).where(
        runs.incident_id == incident_id,
        runs.agent == "postmortem-analyst",
        runs.status == RunStatus.FAILED.value,
    )
    with container.engine.connect() as conn:
        return [str(e) for e in conn.execute(query).scalars()]


def test_one_broken_incident_does_not_stop_drafting_for_the_others(
    quiet_api: TestClient, container: Container, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    analyst = container.agents.analyst
    assert analyst is not None
    first, second, third = (resolved(quiet_api, container, clock, f"outage {n}") for n in range(3))
    caplog.set_level(logging.ERROR, "so1")
    fussy = FailsFor(analyst, [first])

    assert draft_missing(container.uow, clock, fussy) == 2
    for incident_id in (second, third):
        assert quiet_api.get(f"/v1/incidents/{incident_id}/postmortem").status_code == 200
    assert quiet_api.get(f"/v1/incidents/{first}/postmortem").status_code == 404
    assert any(first in line for line in failures(caplog, "postmortem drafting"))
    runs = failed_runs(container, first)
    assert len(runs) == 1 and "confirmed_by" in runs[0]

    # the broken one waits instead of taking a place in every pass
    assert draft_missing(container.uow, clock, fussy) == 0
    assert len(failed_runs(container, first)) == 1
    clock.advance(RETRY_FAILED_AFTER + timedelta(seconds=1))
    assert draft_missing(container.uow, clock, analyst) == 1
    assert quiet_api.get(f"/v1/incidents/{first}/postmortem").status_code == 200


def test_a_hypothesis_without_a_verified_mitigation_gets_its_postmortem(api: TestClient) -> None:
    """The issue's reproduction: a documented hypothesis, no mitigation, resolved."""
    made = api.post("/v1/incidents", json={"title": "Checkout errors", "severity": "SEV2"})
    incident_id = made.json()["id"]
    hypothesis = {"hypothesis": "pool too small", "confidence": 0.6}
    hypothesis["cause"] = "connection_exhaustion"
    assert api.post(f"/v1/incidents/{incident_id}/hypotheses", json=hypothesis).status_code == 201
    assert api.patch(f"/v1/incidents/{incident_id}", json={"status": "resolved"}).status_code == 200
    inputs = {"incident_id": incident_id}
    run = api.post("/v1/orchestrate", json={"agent": "postmortem-analyst", "inputs": inputs})
    assert run.status_code == 200, run.text
    draft = run.json()["output"]["draft"]
    assert draft["root_cause"]["cause"] == "connection_exhaustion"
    assert draft["root_cause"]["confirmed_by"] is None
    markdown = run.json()["output"]["markdown"]
    assert "(60% confidence)" in markdown and "confirmed:" not in markdown
    assert api.get(f"/v1/incidents/{incident_id}").json()["status"] == IncidentStatus.RESOLVED
