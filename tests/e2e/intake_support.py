"""Shared pieces for intake tests: the seed's alert, a scripted triage agent, fixtures."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.agents.registry import Agents
from so1.bootstrap import Container
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
        self.seen: list[Mapping[str, Any]] = []

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.seen.append(inputs)
        metric = inputs["alert_data"]["metric"]
        if metric == "cosmetic":
            return {
                "severity": "SEV4",
                "classification": "incident",
                "escalation": "ticket",
                "confidence": 0.9,
                "impact": {},
                "hypotheses": [],
                "status": "completed",
            }
        if metric == "test":
            return {
                "severity": None,
                "classification": "non_incident",
                "escalation": "close",
                "confidence": 0.95,
                "impact": {},
                "hypotheses": [],
                "status": "completed",
                "rationale": ["test notification"],
            }
        if metric == "broken":
            raise RuntimeError("policy exploded")
        return {
            "severity": "SEV2",
            "classification": "incident",
            "escalation": "standard",
            "confidence": 0.82,
            "impact": {"users_affected": 150, "services": ["control-plane-api"]},
            "hypotheses": [
                {
                    "cause": "connection_exhaustion",
                    "confidence": 0.85,
                    "evidence": ["pool at 100%"],
                    "investigation_steps": ["check pool"],
                }
            ],
            "status": "completed",
        }


@pytest.fixture
def triage() -> ScriptedTriage:
    return ScriptedTriage()


@pytest.fixture
def alerts_api(
    container: Container, admin_token: str, triage: ScriptedTriage
) -> Iterator[TestClient]:
    container.agents = Agents(by_name={"triage-responder": triage})
    container.settings.triage_worker = False  # tests drive the pipeline step by step
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


def run_pipeline(container: Container) -> int:
    return process_pending(container.uow, container.clock, container.triage_agent)
