"""Triage reads an alert the way the runbook's severity table does (issue 14): the impact
class from the table's words first, small bounded moves after, the text over a metric pattern,
and a rationale from which the result can be predicted. Pure, no I/O."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from so1.agents.triage.agent import TriageResponder
from tests.triage_inputs import triage_input

NOW = "2024-01-15T14:45:00Z"
CATALOG: list[dict[str, Any]] = [
    {"name": "ledger", "tier": "critical", "users": 400, "dependencies": ["ledger-db"]},
    {"name": "ledger-db", "tier": "critical", "dependencies": []},
    {"name": "settings-ui", "tier": "high", "users": 5000, "dependencies": []},
    {"name": "export-service", "tier": "medium", "users": 300, "dependencies": []},
    {"name": "search-api", "tier": "medium", "users": 300, "dependencies": ["search-db"]},
    {"name": "search-db", "tier": "high", "dependencies": []},
    {"name": "notifications", "tier": "medium", "users": 800, "dependencies": []},
    {"name": "ops-report", "tier": "low", "users": 20, "dependencies": []},
    {"name": "admin-api", "tier": "high", "users": 60, "dependencies": []},
    {"name": "orders", "tier": "critical", "users": 20000, "dependencies": []},
    {"name": "status-page", "tier": "low", "users": 30, "dependencies": []},
]


def triage(service: str, context: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    inputs = {
        "alert_id": "a-1",
        "alert_source": "events",
        "alert_data": {"service": service, **data},
        "context": {"now": NOW, "services": copy.deepcopy(CATALOG), **(context or {})},
    }
    return TriageResponder().run(triage_input(inputs)).as_json()


def lines(report: dict[str, Any]) -> str:
    return "\n".join(report["rationale"])


def test_vendor_message_field_sets_data_loss() -> None:
    report = triage(
        "ledger",
        metric="errors",
        current_value="40",
        threshold="0",
        summary="Ledger error count above 0",
        message="Customer balances overwritten by a bad backfill",
    )
    assert report["severity"] == "SEV0"
    assert "impact class data_loss" in report["rationale"][0]
    assert "message=Customer balances overwritten" in report["rationale"][0]


def test_cosmetic_words_beat_a_crossed_threshold() -> None:
    report = triage(
        "settings-ui",
        metric="ui_errors",
        current_value="2",
        threshold="0",
        summary="Button colour wrong on the settings page; cosmetic only",
    )
    assert report["severity"] == "SEV4"
    assert report["escalation"] == "ticket"
    assert "impact class cosmetic" in report["rationale"][0]


def test_a_workaround_is_sev3() -> None:
    report = triage(
        "export-service",
        metric="export_failures",
        current_value="14",
        threshold="< 1",
        summary="Bulk export fails; exporting one file at a time works",
    )
    assert report["severity"] == "SEV3"
    assert "impact class workaround" in report["rationale"][0]
    assert "one file at a time works" in report["rationale"][0]


def test_a_confirmed_breach_is_sev0() -> None:
    report = triage(
        "admin-api",
        summary="admin token used from an unknown network to download customer records",
    )
    assert report["severity"] == "SEV0"
    assert report["escalation"] == "immediate"
    assert "impact class security_breach" in report["rationale"][0]
    assert report["hypotheses"][0]["cause"] == "security_breach"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"metric": "row_count_drift", "current_value": "0", "threshold": "< 10"},
        {"status": "resolved"},
        {"summary": "Test alert: orders table lost 3,000 rows after the migration"},
    ],
)
def test_data_loss_is_never_a_non_incident(extra: dict[str, Any]) -> None:
    data = {"summary": "orders table lost 3,000 rows after the migration", **extra}
    report = triage("orders", **data)
    assert report["classification"] == "incident"
    assert report["severity"] == "SEV0"


def test_a_negation_cancels_the_phrase() -> None:
    report = triage(
        "ledger-db",
        metric="replica_lag_seconds",
        current_value="30s",
        threshold="< 10s",
        summary="Replica lag 30s after failover, no data loss",
    )
    assert report["severity"] != "SEV0"
    assert "data_loss" not in report["rationale"][0]


@pytest.mark.parametrize(
    ("service", "data", "allowed"),
    [
        (
            "export-service",
            {"metric": "error_rate", "current_value": "3%", "threshold": "< 1%"},
            {"SEV3"},
        ),
        (
            "search-api",
            {"metric": "latency_p99", "current_value": "750ms", "threshold": "< 500ms"},
            {"SEV3"},
        ),
        (
            "notifications",
            {
                "metric": "email_delivery_delay",
                "current_value": "4min",
                "threshold": "< 1min",
                "summary": "Emails delayed a few minutes but all delivered",
            },
            {"SEV3"},
        ),
        (
            "ops-report",
            {"metric": "error_rate", "current_value": "50%", "threshold": "< 1%"},
            {"SEV2", "SEV3"},
        ),
    ],
)
def test_tier_and_users_do_not_overshoot(
    service: str, data: dict[str, Any], allowed: set[str]
) -> None:
    report = triage(service, **data)
    assert report["severity"] in allowed, lines(report)


@pytest.mark.parametrize("metric", ["health_check", "up"])
def test_health_endpoint_down_stays_sev1_minimum_on_a_low_tier(metric: str) -> None:
    report = triage("status-page", metric=metric, current_value="down", severity_hint="info")
    assert report["severity"] in ("SEV0", "SEV1")
    assert "health endpoint down: SEV1 minimum" in lines(report)


@pytest.mark.parametrize(("service", "severity"), [("orders", "SEV0"), ("settings-ui", "SEV1")])
def test_a_health_endpoint_down_is_the_whole_service(service: str, severity: str) -> None:
    """On the critical tier (the core path) the whole service down is a complete outage."""
    report = triage(service, metric="health_check", current_value="0", threshold="== 1")
    assert report["severity"] == severity, lines(report)
    assert "move health endpoint down: the whole service, not one feature: -0.25" in lines(report)


def test_a_class_from_words_alone_is_less_certain_than_a_measured_one() -> None:
    worded = triage("orders", summary="Checkout is down", metric="errors", current_value="3")
    measured = triage("orders", metric="checkout_success", current_value="0%", threshold=">= 99%")
    assert worded["severity"] == measured["severity"] == "SEV1"
    assert "the impact class rests on words alone" in lines(worded)
    assert "the impact class rests on words alone" not in lines(measured)
    assert worded["confidence"] < measured["confidence"]


def test_moves_that_pull_both_ways_lower_the_confidence() -> None:
    report = triage(
        "orders",
        metric="error_rate",
        current_value="1.1%",
        threshold="< 1%",
        severity_hint="warning",
    )
    assert "move tier critical: -0.30" in lines(report)
    assert "confidence -0.05: the moves pull both ways" in lines(report)


@pytest.mark.parametrize(("affected", "severity"), [(250, "SEV1"), (20, "SEV3")])
def test_the_senders_count_of_users_is_a_share_of_the_catalogs(
    affected: int, severity: str
) -> None:
    """250 of search-api's 300 users (83%) is (nearly) everyone: a complete outage, SEV1 after
    the medium tier's +0.5; 20 of them is not read as a share: the words decide (minor)."""
    report = triage(
        "search-api", title="TimeoutError in /search", message="searches fail", userCount=affected
    )
    assert report["severity"] == severity, lines(report)
    share = "250 of the service's 300 users affected"
    assert (share in report["rationale"][0]) is (affected == 250), lines(report)


def test_the_text_beats_a_metric_pattern() -> None:
    deploy = {
        "service": "search-api",
        "version": "v9.3.0",
        "previous_version": "v9.2.4",
        "deployed_at": "2024-01-15T14:30:00Z",
    }
    report = triage(
        "search-api",
        context={"deployments": [deploy]},
        metric="latency_p99",
        current_value="2s",
        threshold="< 500ms",
        summary="Latency jumped right after the deploy; database metrics normal",
    )
    causes = [h["cause"] for h in report["hypotheses"]]
    assert causes[0] == "deployment_issue"
    assert "slow_queries" not in causes
    assert any("right after the deploy" in e for e in report["hypotheses"][0]["evidence"])


@pytest.mark.parametrize(
    ("summary", "cause"),
    [
        ("Errors since v9.3.0 went out", "deployment_issue"),
        ("Checkout errors after the config change", "configuration_error"),
    ],
)
def test_explicit_statements_move_hypotheses(summary: str, cause: str) -> None:
    report = triage(
        "search-api", metric="error_rate", current_value="4%", threshold="< 1%", summary=summary
    )
    top = report["hypotheses"][0]
    assert top["cause"] == cause
    phrase = summary.split(" ", 1)[1][:12]
    assert any(phrase in e for e in top["evidence"]), top["evidence"]


def test_the_rationale_lets_a_reader_predict_the_result() -> None:
    report = triage(
        "search-api",
        metric="latency_p99",
        current_value="750ms",
        threshold="< 500ms",
        severity_hint="warning",
    )
    text = lines(report)
    assert report["rationale"][0].startswith("impact class degraded, SEV2 by the table")
    assert "moves may reach SEV1-SEV3" in report["rationale"][0]
    assert "move tier medium: +0.50" in text
    assert "move 750ms is 1.5x the limit, modestly past it: +0.25" in text
    assert "move the sender's hint warning: +0.25" in text
    assert "score 3 -> SEV3" in text
    assert (
        'threshold: threshold "< 500ms" read as the healthy condition (operator <): '
        "healthy below 500ms; 750ms breaches it"
    ) in text
