"""Shared pieces for intake tests: the seed's alert, a scripted triage agent, fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from so1.agents.registry import Agents
from so1.agents.triage import TriageInput, TriageReport
from so1.agents.triage.contract import Hypothesis, Impact
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.domain.triage import Classification, Escalation, TriageStatus
from so1.entrypoints.api.app import create_app
from so1.services.triage.flow import process_pending

SEED_ALERT = {
    "event_action": "trigger",
    "dedup_key": "pd-alert-123",
    "source": "pagerduty",
    "service": "control-plane-api",
    "metric": "error_rate",
    "current_value": "12%",
    "threshold": "< 1%",
    "summary": "API error rate 12% (threshold < 1%)",
}


class ScriptedTriage:
    """Severity by metric name, so the pipeline can be checked without the real policy."""

    name = "triage-responder"

    def __init__(self) -> None:
        self.seen: list[TriageInput] = []

    def run(self, inputs: TriageInput) -> TriageReport:
        self.seen.append(inputs)
        metric = inputs.alert.metric
        if metric == "cosmetic":
            return _report(Severity.SEV4, Escalation.TICKET, 0.9, ())
        if metric == "test":
            return replace(
                _report(None, Escalation.CLOSE, 0.95, ()),
                classification=Classification.NON_INCIDENT,
                rationale=("test notification",),
            )
        if metric == "broken":
            raise RuntimeError("policy exploded")
        pool = Hypothesis("connection_exhaustion", 0.85, ("pool at 100%",), ("check pool",))
        return _report(Severity.SEV2, Escalation.STANDARD, 0.82, (pool,))


def _report(
    severity: Severity | None,
    escalation: Escalation,
    confidence: float,
    hypotheses: tuple[Hypothesis, ...],
) -> TriageReport:
    return TriageReport(
        severity=severity,
        confidence=confidence,
        classification=Classification.INCIDENT,
        impact=Impact(150, ("control-plane-api",)) if hypotheses else Impact(None, ()),
        hypotheses=hypotheses,
        escalation=escalation,
        status=TriageStatus.COMPLETED,
        incident_id=None,
        rationale=(),
    )


@pytest.fixture
def triage() -> ScriptedTriage:
    return ScriptedTriage()


@pytest.fixture
def alerts_api(
    container: Container, admin_token: str, triage: ScriptedTriage
) -> Iterator[TestClient]:
    container.agents = Agents(triage=triage)
    container.settings.triage_worker = False  # tests drive the pipeline step by step
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


def run_pipeline(container: Container) -> int:
    return process_pending(container.uow, container.clock, container.triage_agent)
