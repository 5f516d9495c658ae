"""The agents' requests at the edge: `POST /v1/orchestrate`'s inputs validated once into the
types the agents declare; every bad field is named; the orchestration registry dispatches by
name to a handler that takes its agent's request type."""

from __future__ import annotations

from typing import Any

import pytest

from so1.agents.commander.contract import CommanderRequest, Impact, TriageFindings
from so1.agents.deployer.contract import DeployerRequest
from so1.agents.postmortem.contract import PostmortemRequest
from so1.agents.registry import Agents, default_agents
from so1.domain.platform import PlatformAction
from so1.domain.postmortem import AnalysisMethod
from so1.domain.severity import Severity
from so1.entrypoints.api.agent_inputs import PARSERS, parse_inputs
from so1.errors import UnknownAgent, ValidationFailed
from so1.services import orchestration
from so1.services.incidents.recording import Actor
from so1.services.triage.requests import TriageRequest
from tests.unit.test_commander import SEED_INPUTS

DESIGN_REPORT: dict[str, Any] = {  # DESIGN §3's triage report
    "severity": "SEV2",
    "confidence": 0.82,
    "classification": "incident",
    "impact": {"users_affected": 150, "services": ["control-plane-api"]},
    "hypotheses": [
        {
            "cause": "connection_exhaustion",
            "confidence": 0.85,
            "evidence": ["pool at 100%", "deploy 4h ago"],
            "investigation_steps": ["..."],
        }
    ],
    "escalation": "immediate",
    "status": "completed",
    "incident_id": "INC-20240115-0042",
    "similar_incidents": [
        {
            "incident_id": "INC-20231201-0007",
            "title": "Pool exhausted",
            "cause": "connection_exhaustion",
            "resolution": "pool 20 → 50",
            "score": 0.61,
        }
    ],
}


def test_the_seed_commander_call_becomes_its_request() -> None:
    request = parse_inputs("incident-commander", SEED_INPUTS | {"severity": "sev1"})
    assert isinstance(request, CommanderRequest)
    assert (request.incident_id, request.severity) == ("INC-20240115-0042", Severity.SEV1)
    assert (request.commander, request.channel) == ("oncall-backend", "#incident-20240115-0042")
    assert request.triage_report is not None
    assert request.triage_report.symptoms == ("High error rate", "Connection pool exhaustion")
    assert request.triage_report.hypotheses == ("Connection pool undersized",)
    assert request.triage_report.impact == Impact(
        150, "workflow executions", ("control-plane-api",)
    )


@pytest.mark.parametrize("report", [SEED_INPUTS["triage_report"], DESIGN_REPORT])
def test_the_edge_and_the_kept_report_reader_agree(report: dict[str, Any]) -> None:
    """A triage report read at the edge and one read back from the timeline give the same
    findings (the commander sees the same either way)."""
    inputs = {"incident_id": "INC-20240115-0042", "triage_report": report}
    request = parse_inputs("incident-commander", inputs)
    assert isinstance(request, CommanderRequest)
    assert request.triage_report == TriageFindings.from_report(report)


def test_an_empty_triage_report_means_the_one_on_record() -> None:
    inputs = {"incident_id": "INC-20240115-0042", "triage_report": {}}
    request = parse_inputs("incident-commander", inputs)
    assert isinstance(request, CommanderRequest) and request.triage_report is None


def test_the_seed_deployer_and_analyst_calls_become_their_requests() -> None:
    rollback = {"action": "rollback", "service": "control-plane-api", "target_version": "previous"}
    assert parse_inputs("railway-deployer", rollback) == DeployerRequest(
        PlatformAction.ROLLBACK, "control-plane-api", target_version="previous"
    )
    seed = {
        "incident_id": "INC-20240115-0042",
        "analysis_method": "5_whys",
        "responders": ["oncall-backend", "platform-team"],
        "timeline_source": "incident_record",
    }
    request = parse_inputs("postmortem-analyst", seed)
    assert request == PostmortemRequest(
        "INC-20240115-0042",
        AnalysisMethod.FIVE_WHYS,
        ("oncall-backend", "platform-team"),
        "incident_record",
    )
    assert isinstance(request, PostmortemRequest) and request.to_json() == seed


@pytest.mark.parametrize(
    ("agent", "bad", "field"),
    [
        ("incident-commander", {"incident_id": "42"}, "inputs.incident_id"),
        ("incident-commander", {"severity": "SEV9"}, "inputs.severity"),
        ("incident-commander", {"triage_report": []}, "inputs.triage_report"),
        ("incident-commander", {"pager": "bo"}, "inputs.pager"),
        ("incident-commander", {"triage_report": {"impact": {"services": "api"}}},
         "inputs.triage_report.impact.services"),
        ("railway-deployer", {"action": "explode"}, "inputs.action"),
        ("railway-deployer", {"replicas": "3"}, "inputs.replicas"),
        ("railway-deployer", {"variables": {"POOL": 50}}, "inputs.variables.POOL"),
        ("railway-deployer", {"target_versoin": "v1"}, "inputs.target_versoin"),
        ("postmortem-analyst", {"analysis_method": "vibes"}, "inputs.analysis_method"),
        ("postmortem-analyst", {"timeline_source": "slack"}, "inputs.timeline_source"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_field(agent: str, bad: dict[str, Any], field: str) -> None:
    good: dict[str, dict[str, Any]] = {
        "incident-commander": {"incident_id": "INC-20240115-0042"},
        "railway-deployer": {"action": "scale", "service": "api", "replicas": 2},
        "postmortem-analyst": {"incident_id": "INC-20240115-0042"},
    }
    parse_inputs(agent, good[agent])  # the good request passes
    with pytest.raises(ValidationFailed) as raised:
        parse_inputs(agent, good[agent] | bad)
    assert raised.value.field == field
    assert field in raised.value.detail


def test_every_agent_has_a_typed_contract_at_the_edge() -> None:
    assert set(PARSERS) == set(default_agents().names())
    inputs = {"alert_id": "pd-alert-123", "alert_data": {"service": "api"}}
    request = parse_inputs("triage-responder", inputs)
    assert isinstance(request, TriageRequest)
    assert request.alert_id == "pd-alert-123"
    assert request.event.service == "api"


def test_the_registry_is_a_dict_of_handlers_by_agent_name() -> None:
    assert set(orchestration.HANDLERS) == set(default_agents().names())
    commander = orchestration.HANDLERS["incident-commander"]
    deps = orchestration.OrchestrationDeps(_no_database, _no_clock(), default_agents())
    with pytest.raises(TypeError, match="CommanderRequest expected"):
        commander(deps, Actor("t"), {"incident_id": "INC-20240115-0042"})


def test_an_unregistered_agent_is_unknown_with_the_known_ones() -> None:
    deps = orchestration.OrchestrationDeps(_no_database, _no_clock(), Agents())
    with pytest.raises(UnknownAgent) as raised:
        orchestration.orchestrate(deps, Actor("t"), "incident-commander", {})
    assert raised.value.known == []


def _no_database(read_only: bool = False) -> Any:
    raise AssertionError("the database is not used")


def _no_clock() -> Any:
    class Clock:
        def now(self) -> Any:
            raise AssertionError("the clock is not read")

    return Clock()
