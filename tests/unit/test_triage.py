"""The triage-responder: the runbook's worked example, the report contract, determinism,
confidence, the health-endpoint rule, value parsing and input validation (pure, no I/O)."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from so1.agents.triage import TriageAgent
from so1.agents.triage.agent import TriageResponder, escalation_for
from so1.agents.triage.facts import resolve, walk
from so1.agents.triage.knowledge import knowledge, parse_knowledge
from so1.domain.catalog import CatalogService, Tier
from so1.domain.severity import Severity
from so1.domain.triage import CAUSES
from tests.triage_inputs import triage_input

REPORT_KEYS = frozenset(
    [
        "severity",
        "confidence",
        "classification",
        "impact",
        "hypotheses",
        "escalation",
        "status",
        "incident_id",
        "rationale",
        "similar_incidents",
    ]
)
NOW = "2024-01-15T14:45:00Z"
CATALOG: list[dict[str, Any]] = [
    {
        "name": "control-plane-api",
        "tier": "critical",
        "owner_team": "platform-team",
        "users": 150,
        "dependencies": ["postgres-primary"],
        "baselines": {"error_rate": "0.2%"},
    },
    {"name": "web-dashboard", "tier": "high", "users": 150, "dependencies": ["control-plane-api"]},
    {"name": "status-widget", "tier": "low", "users": 10, "dependencies": ["web-dashboard"]},
    {"name": "postgres-primary", "tier": "critical", "users": None, "dependencies": []},
    {"name": "docs-site", "tier": "low", "users": 40, "dependencies": []},
]


def seed_inputs() -> dict[str, Any]:
    """The runbook's curl example, with the context SO1 adds from its database."""
    return {
        "alert_id": "pd-alert-123",
        "alert_source": "pagerduty",
        "alert_data": {
            "service": "so1-control-plane-api",
            "metric": "error_rate",
            "current_value": "12%",
            "threshold": "< 1%",
        },
        "context": {
            "now": NOW,
            "services": copy.deepcopy(CATALOG),
            "deployments": [
                {
                    "service": "control-plane-api",
                    "version": "v2.14.0",
                    "previous_version": "v2.13.2",
                    "deployed_at": "2024-01-15T10:45:00Z",
                    "deployed_by": "oncall-backend",
                    "commit_sha": "9f3c2a1",
                    "status": "succeeded",
                    "config": {},
                }
            ],
            "flag_changes": [],
            "related_alerts": [
                {
                    "id": "pd-alert-122",
                    "source": "pagerduty",
                    "service": "control-plane-api",
                    "metric": "db_pool_utilization",
                    "current_value": "100%",
                    "threshold": "< 90%",
                    "summary": "Database connection pool at 100% utilization",
                    "status": "firing",
                    "first_seen_at": "2024-01-15T14:31:00Z",
                    "dedup_count": 3,
                    "labels": {},
                }
            ],
            "incident_id": "INC-20240115-0042",
        },
    }


def alert(service: str = "control-plane-api", **data: Any) -> dict[str, Any]:
    return {
        "alert_id": "a-1",
        "alert_source": "events",
        "alert_data": {"service": service, **data},
        "context": {"now": NOW, "services": copy.deepcopy(CATALOG)},
    }


def triage(inputs: dict[str, Any]) -> dict[str, Any]:
    return TriageResponder().run(triage_input(inputs)).as_json()


def test_is_an_agent_named_as_the_runbook_calls_it() -> None:
    agent: TriageAgent = TriageResponder()
    assert agent.name == "triage-responder"


def test_report_json_has_design_shape() -> None:
    """DESIGN §3 is a contract: the typed report serialises to exactly these keys and types."""
    report = triage(seed_inputs())
    assert set(report) == REPORT_KEYS
    assert isinstance(report["severity"], str) and isinstance(report["confidence"], float)
    assert set(report["impact"]) == {"users_affected", "services"}
    assert isinstance(report["impact"]["services"], list)
    for hypothesis in report["hypotheses"]:
        assert set(hypothesis) == {"cause", "confidence", "evidence", "investigation_steps"}
        assert isinstance(hypothesis["evidence"], list)
        assert isinstance(hypothesis["investigation_steps"], list)
    assert all(isinstance(line, str) for line in report["rationale"])
    assert report["similar_incidents"] == []
    similar: dict[str, Any] = {"incident_id": "INC-20240101-0001", "title": "Pool exhausted"}
    similar |= {"cause": "connection_exhaustion", "resolution": "raised the pool", "score": 0.4}
    inputs = seed_inputs()
    inputs["context"]["similar_incidents"] = [similar]
    with_past = triage(inputs)
    assert with_past["similar_incidents"] == [similar]
    top = with_past["hypotheses"][0]
    assert top["evidence"][-1].endswith("this cause was fixed by: raised the pool")


def test_seed_example_is_sev2_connection_exhaustion() -> None:
    report = triage(seed_inputs())
    assert set(report) == REPORT_KEYS
    assert report["severity"] == "SEV2"
    assert report["classification"] == "incident"
    assert report["escalation"] == "standard"
    assert report["status"] == "completed"
    assert report["confidence"] >= 0.70
    assert report["confidence"] == round(report["confidence"], 2)
    assert report["incident_id"] == "INC-20240115-0042"
    assert report["impact"]["users_affected"] == 150
    assert report["impact"]["services"][0] == "control-plane-api"
    assert {h["cause"] for h in report["hypotheses"]} <= CAUSES
    top = report["hypotheses"][0]
    assert top["cause"] == "connection_exhaustion"
    assert any("db_pool_utilization at 100%" in e for e in top["evidence"])
    assert any(
        "service:control-plane-api status:error last 30m" in s for s in top["investigation_steps"]
    )
    deploy = next(h for h in report["hypotheses"] if h["cause"] == "deployment_issue")
    assert "deployment v2.14.0 of control-plane-api 4h ago" in deploy["evidence"][0]
    assert any("compare v2.14.0 with v2.13.2" in s for s in deploy["investigation_steps"])


def test_impact_lists_dependents_transitively() -> None:
    report = triage(seed_inputs())
    assert report["impact"]["services"] == ["control-plane-api", "web-dashboard", "status-widget"]
    database = triage(alert("postgres-primary", metric="pg_up", current_value=0))
    assert database["impact"]["services"] == [
        "postgres-primary",
        "control-plane-api",
        "web-dashboard",
        "status-widget",
    ]
    assert database["impact"]["users_affected"] == 150
    catalog = {
        s["name"]: CatalogService(s["name"], Tier.LOW, dependencies=list(s["dependencies"]))
        for s in CATALOG
    }
    assert walk("status-widget", catalog, upstream=True) == (
        "web-dashboard",
        "control-plane-api",
        "postgres-primary",
    )


def test_runbook_curl_without_context_leads_with_the_pool_and_says_what_it_lacks() -> None:
    """The seed's curl alone: the runbook's verification asks for a confidence over 70%; the
    rationale says what is missing (the catalog) and the pool lead is weak, not a finding."""
    inputs = seed_inputs()
    del inputs["context"]
    report = triage(inputs)
    assert report["severity"] == "SEV2"
    assert report["confidence"] == 0.75
    assert report["status"] == "completed"
    assert "confidence -0.10: so1-control-plane-api is not in the catalog" in report["rationale"]
    assert "confidence -0.05: the leading cause is weak" in report["rationale"]
    assert report["hypotheses"][0]["cause"] == "connection_exhaustion"
    assert report["incident_id"] is None


def test_an_unknown_service_without_a_written_operator_costs_more() -> None:
    report = triage(alert("mystery-service", metric="error_rate", current_value=12, threshold="1"))
    assert "confidence -0.15: mystery-service is not in the catalog" in report["rationale"]


def test_same_input_gives_the_same_report_and_inputs_are_not_changed() -> None:
    inputs = triage_input(seed_inputs())
    first, second = TriageResponder().run(inputs), TriageResponder().run(inputs)
    assert first == second
    assert inputs == triage_input(seed_inputs())


def test_thin_alert_needs_investigation() -> None:
    report = triage(alert("mystery-service"))
    assert report["classification"] == "incident"
    assert report["confidence"] < 0.70
    assert report["status"] == "investigation_required"
    assert report["hypotheses"][0]["cause"] == "unknown"


def test_confidence_is_computed_and_drops_on_conflict() -> None:
    plain = triage(alert(metric="error_rate", current_value="70%", threshold="< 1%"))
    conflicting = triage(
        alert(metric="error_rate", current_value="70%", threshold="< 1%", severity_hint="info")
    )
    assert plain["severity"] in ("SEV0", "SEV1")
    assert conflicting["confidence"] < plain["confidence"]


@pytest.mark.parametrize(
    ("metric", "value"),
    [("health_check", "failing"), ("up", 0), ("heartbeat", "down"), ("readiness_probe", False)],
)
def test_health_endpoint_down_is_at_least_sev1(metric: str, value: Any) -> None:
    report = triage(alert("docs-site", metric=metric, current_value=value, severity_hint="info"))
    assert report["severity"] in ("SEV0", "SEV1")
    assert report["escalation"] == "immediate"


@pytest.mark.parametrize(
    "data",
    [
        {"summary": "Test notification", "is_test": True},
        {"metric": "error_rate", "current_value": "12%", "threshold": "< 1%", "status": "resolved"},
        {"metric": "error_rate", "current_value": "0.4%", "threshold": "< 1%"},
        {"metric": "availability", "current_value": "99.95%", "threshold": ">= 99.9%"},
        {"metric": "cpu_utilization", "current_value": 0.62, "threshold": "< 0.9"},
    ],
)
def test_nothing_to_act_on_is_closed(data: dict[str, Any]) -> None:
    report = triage(alert(**data))
    assert report["classification"] == "non_incident"
    assert report["severity"] is None
    assert report["escalation"] == "close"
    assert report["hypotheses"] == []


def test_cosmetic_issue_is_a_sev4_ticket() -> None:
    report = triage(
        alert("web-dashboard", summary="Button misaligned on Safari", severity_hint="info")
    )
    assert report["severity"] == "SEV4"
    assert report["classification"] == "incident"
    assert report["escalation"] == "ticket"


@pytest.mark.parametrize(
    ("severity", "escalation"),
    [
        ("SEV0", "immediate"),
        ("SEV1", "immediate"),
        ("SEV2", "standard"),
        ("SEV3", "standard"),
        ("SEV4", "ticket"),
    ],
)
def test_escalation_follows_the_runbook(severity: str, escalation: str) -> None:
    assert escalation_for(Severity(severity)) == escalation


def test_service_names_resolve_with_an_organisation_prefix_only() -> None:
    catalog = {s["name"]: CatalogService(s["name"], Tier.LOW) for s in CATALOG}
    assert resolve("so1-control-plane-api", catalog) == "control-plane-api"
    assert resolve("control-plane-api", catalog) == "control-plane-api"
    assert resolve("api", catalog) == "api"


def test_knowledge_covers_the_cause_vocabulary() -> None:
    kn = knowledge()
    assert {c.cause for c in kn.causes} == CAUSES
    assert all(c.steps for c in kn.causes)


def test_knowledge_rejects_unknown_signals() -> None:
    text = resources.files("so1.knowledge").joinpath("symptoms.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["causes"]["unknown"]["signals"] = [{"when": "astrology", "weight": 1}]
    with pytest.raises(ValueError, match="astrology"):
        parse_knowledge(doc)
