"""Classes of triage error found on the tuning corpus (issue 14, second pass), each read the
way the runbook's severity table reads it. Pure: the agent alone, no I/O."""

from __future__ import annotations

import copy
from typing import Any

from so1.agents.triage.agent import TriageResponder
from tests.triage_inputs import triage_input

NOW = "2024-01-15T14:45:00Z"
CATALOG: list[dict[str, Any]] = [
    {"name": "web", "tier": "critical", "users": 90000, "dependencies": ["web-db"]},
    {"name": "web-db", "tier": "critical", "dependencies": []},
    {"name": "otp-sender", "tier": "medium", "users": 5000, "dependencies": []},
    {"name": "billing", "tier": "critical", "users": 4000, "dependencies": []},
    {"name": "reports", "tier": "medium", "users": 300, "dependencies": []},
    {"name": "worker", "tier": "critical", "users": 150, "dependencies": []},
]


def triage(service: str, context: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    inputs = {
        "alert_id": "a-1",
        "alert_source": "events",
        "alert_data": {"service": service, **data},
        "context": {"now": NOW, "services": copy.deepcopy(CATALOG), **(context or {})},
    }
    return TriageResponder().run(triage_input(inputs)).as_json()


def text(report: dict[str, Any]) -> str:
    return "\n".join(report["rationale"])


def test_every_request_failing_is_a_complete_outage() -> None:
    report = triage("web", summary="web: every request fails with 503 since 14:40")
    assert report["severity"] == "SEV0"
    assert report["rationale"][0].startswith("impact class complete_outage")


def test_a_probe_failing_from_every_location_is_a_complete_outage() -> None:
    report = triage(
        "web",
        metric="probe_success",
        current_value="0",
        threshold="== 1",
        summary="web probe failed from every probe location",
    )
    assert report["severity"] == "SEV0"


def test_the_share_is_read_after_a_status_code() -> None:
    report = triage("web", summary="502 on 85% of requests; CPU 100% on the edge")
    assert report["severity"] == "SEV0"
    assert '"502 on 85% of requests"' in report["rationale"][0]


def test_n_of_m_users_is_a_share() -> None:
    report = triage("worker", title="TimeoutError", message="90 of 150 users hit this error")
    assert report["rationale"][0].startswith("impact class outage")  # 60%: 25-80% failing
    assert report["severity"] == "SEV1"


def test_a_feature_down_with_a_fallback_is_a_workaround() -> None:
    report = triage(
        "otp-sender",
        summary="SMS provider returns 503 for every one-time-code SMS",
        fallback="codes by e-mail still go out",
    )
    assert report["severity"] == "SEV3"
    assert report["rationale"][0].startswith("impact class workaround")
    assert "fallback=codes by e-mail" in report["rationale"][0]


def test_a_feature_down_while_another_works_stays_an_outage() -> None:
    report = triage("web", summary="web: every upload fails; downloads still work")
    assert report["severity"] == "SEV1"


def test_a_feature_down_in_one_region_is_degraded() -> None:
    report = triage(
        "web",
        metric="checkout_success",
        current_value="0%",
        threshold=">= 98%",
        summary="checkout in us-east failing; eu and ap regions healthy",
    )
    assert report["severity"] == "SEV2"
    assert "move limited to one part" in text(report) and ": +1.00" in text(report)


def test_a_measured_partial_share_counts_one_part_only_half() -> None:
    report = triage(
        "web",
        metric="error_rate",
        current_value="33%",
        threshold="< 1%",
        summary="all web instances in eu-west-1a unreachable; other zones are healthy",
    )
    assert report["severity"] == "SEV1"
    assert "limited to one part" in text(report) and ": +0.50" in text(report)


def test_a_non_user_metric_with_no_words_is_a_minor_issue() -> None:
    report = triage("billing", metric="custom.check", current_value="1", threshold="0")
    assert report["rationale"][0].startswith("impact class minor")
    assert "does not measure what users get" in report["rationale"][0]
    assert report["severity"] == "SEV3"


def test_a_user_metric_past_its_threshold_stays_degraded() -> None:
    report = triage("billing", metric="error_rate", current_value="6%", threshold="< 1%")
    assert report["rationale"][0].startswith("impact class degraded")
    assert report["severity"] in ("SEV1", "SEV2")


def test_internal_users_only_moves_half_a_level() -> None:
    report = triage(
        "reports",
        metric="replication_lag",
        current_value="45min",
        threshold="< 30s",
        summary="replica behind: the internal reports show old data",
    )
    assert "move internal users only" in text(report) and ": +0.50" in text(report)
    assert report["severity"] == "SEV3"


def test_data_loss_after_a_hotfix_points_at_the_deploy_not_the_database() -> None:
    deploy = {
        "service": "web",
        "version": "v4.2.1",
        "previous_version": "v4.2.0",
        "deployed_at": "2024-01-15T13:00:00Z",
    }
    report = triage(
        "web",
        context={"deployments": [deploy]},
        summary="Saved records reverted after hotfix v4.2.1; data loss confirmed",
    )
    assert report["severity"] == "SEV0"
    top = report["hypotheses"][0]
    assert top["cause"] == "deployment_issue"
    assert any("after hotfix v4.2.1" in e for e in top["evidence"]), top["evidence"]


def test_a_full_memory_without_growth_is_an_exhausted_resource() -> None:
    report = triage(
        "worker",
        metric="memory_used",
        current_value="99%",
        threshold="< 90%",
        summary="cache out of configured maxmemory; keys are evicted",
    )
    assert report["hypotheses"][0]["cause"] == "resource_exhaustion"


def test_memory_climbing_steadily_is_a_leak() -> None:
    report = triage(
        "worker",
        metric="memory_usage",
        current_value="91%",
        threshold="< 80%",
        summary="worker memory 91% and rising; climbed steadily for 14 hours",
    )
    assert report["hypotheses"][0]["cause"] == "memory_leak"


def test_words_between_after_the_and_release_still_name_the_deploy() -> None:
    report = triage("web", summary="502s started right after the WAF managed rules release")
    assert report["hypotheses"][0]["cause"] == "deployment_issue"


def test_a_connection_refused_by_the_database_is_a_database_failure() -> None:
    report = triage(
        "web",
        title="OperationalError: Can't connect to MySQL server on 'web-db' (Connection refused)",
    )
    assert report["hypotheses"][0]["cause"] == "database_failure"


def test_a_name_that_does_not_resolve_is_a_feature_down() -> None:
    report = triage("web-db", summary="web-db endpoint DNS not resolving in us-east-1")
    assert report["rationale"][0].startswith("impact class outage")
    assert report["severity"] in ("SEV0", "SEV1")
