"""The incident-commander agent: the seed's Phase 2 example and the commander table."""

from __future__ import annotations

from typing import Any

import pytest

from so1.agents.commander.agent import IncidentCommander

SEED_INPUTS: dict[str, Any] = {
    "incident_id": "INC-20240115-0042",
    "severity": "SEV2",
    "title": "API error rate spike",
    "triage_report": {
        "symptoms": ["High error rate", "Connection pool exhaustion"],
        "impact": {
            "users_affected": 150,
            "services": ["control-plane-api"],
            "affected": "workflow executions",
        },
        "hypothesis": ["Connection pool undersized"],
    },
    "commander": "oncall-backend",
    "channel": "#incident-20240115-0042",
}
SEED_INTERNAL = """🔴 **SEV2 Incident Declared: API Error Rate Spike**
**Status**: Investigating
**Impact**: 150 users, workflow executions failing
**Commander**: @oncall-backend
**War Room**: #incident-20240115-0042
Investigating database connection pool exhaustion. Updates every 15 min."""
SEED_STATUS_PAGE = """**Investigating - API Performance Issues**
We are currently experiencing elevated error rates affecting workflow executions.
Our team is actively investigating. Next update in 15 minutes."""

PEOPLE = [
    {"handle": "oncall-backend", "team": "backend"},
    {"handle": "bo", "team": "backend", "seniority": "senior"},
    {"handle": "cy", "team": "backend"},
    {"handle": "eng-lead", "team": "backend", "seniority": "lead"},
    {"handle": "cto", "seniority": "executive"},
    {"handle": "dee", "team": "data", "seniority": "senior"},
]
TEAMS: list[dict[str, Any]] = [
    {"name": "backend", "lead": "eng-lead", "escalation_policy": "backend-default",
     "on_call": "oncall-backend", "schedule": "backend-primary", "backups": ["bo", "cy"]},
    {"name": "data", "lead": "eng-lead", "on_call": "dee", "schedule": "data-primary"},
]  # fmt: skip
SERVICES = [
    {
        "name": "control-plane-api",
        "owner_team": "backend",
        "tier": "critical",
        "public_name": "API",
    },
    {"name": "postgres-primary", "owner_team": "data", "tier": "critical"},
]


def plan(**changes: Any) -> dict[str, Any]:
    return IncidentCommander().run({**SEED_INPUTS, **changes})


def with_context(**changes: Any) -> dict[str, Any]:
    context = {"people": PEOPLE, "teams": TEAMS, "services": SERVICES}
    return plan(service="control-plane-api", context=context, commander=None, **changes)


def test_seed_example_gives_the_seed_channel_topic_commander_and_message() -> None:
    out = plan()
    assert out["channel"] == "#incident-20240115-0042"
    assert out["topic"] == "SEV2: API error rate spike | Commander: @oncall-backend"
    assert out["commander"] == "oncall-backend"
    (internal,) = out["messages"]  # SEV2: no status page, no escalation
    assert (internal["to"], internal["text"]) == ("war_room", SEED_INTERNAL)
    assert [p["handle"] for p in out["pages"]] == ["oncall-backend"]


def test_seed_example_as_sev1_posts_the_status_page_and_escalates_to_the_lead() -> None:
    out = with_context(severity="SEV1")
    kinds = [(m["to"], m["kind"]) for m in out["messages"]]
    assert kinds == [
        ("war_room", "declared"),
        ("status_page", "declared"),
        ("war_room", "escalation"),
    ]
    assert out["messages"][1]["text"] == SEED_STATUS_PAGE
    assert out["commander"] == "bo"  # SEV1 wants a senior engineer: the on-call is not one
    assert "eng-lead" in [p["handle"] for p in out["pages"]]
    assert out["messages"][2]["text"].startswith("/pd escalate to eng-lead")


def test_sev0_has_lead_commander_executive_and_all_hands_notice() -> None:
    out = with_context(severity="SEV0")
    assert (out["commander"], out["executive"]) == ("eng-lead", "cto")
    all_hands = next(m for m in out["messages"] if m["kind"] == "all_hands")
    assert all_hands["text"].startswith("@channel 🚨 SEV0 INCIDENT:")
    assert "#incident-20240115-0042" in all_hands["text"]
    assert {"eng-lead", "cto"} <= set(out["responders"])


@pytest.mark.parametrize("severity", ["SEV2", "SEV3"])
def test_on_call_engineer_commands_sev2_and_sev3(severity: str) -> None:
    out = with_context(severity=severity)
    assert (out["commander"], out["backup"]) == ("oncall-backend", "bo")


def test_commander_on_time_off_is_replaced_by_the_backup_from_the_rotation() -> None:
    teams = [{**TEAMS[0], "on_call": "bo", "backups": ["cy"], "skipped": ["oncall-backend"]}]
    context = {"people": PEOPLE, "teams": teams, "services": SERVICES, "away": ["oncall-backend"]}
    out = plan(service="control-plane-api", context=context)  # oncall-backend requested
    assert out["commander"] == "bo"
    assert any("unavailable" in d for d in out["decisions"])
    assert any("backup @bo" in d for d in out["decisions"])


def test_multi_team_incident_is_led_by_the_most_affected_services_owner() -> None:
    context = {
        "people": PEOPLE,
        "teams": TEAMS,
        "services": SERVICES,
        "alert_counts": {"control-plane-api": 2, "postgres-primary": 9},
    }
    out = plan(service="control-plane-api", context=context, commander=None)
    assert (out["owning_team"], out["most_affected_service"], out["commander"]) == (
        "data",
        "postgres-primary",
        "dee",
    )
    assert "oncall-backend" in out["responders"]  # the other team's on-call joins
    assert any("several teams" in d for d in out["decisions"])


def test_security_incident_is_private_and_never_on_the_status_page() -> None:
    report = {"hypotheses": [{"cause": "security_breach", "confidence": 0.9}]}
    out = with_context(severity="SEV0", triage_report=report)
    assert out["private"] is True
    assert all(m["to"] != "status_page" for m in out["messages"])
    assert "DO NOT publicly disclose" in out["messages"][0]["text"]


def test_timers_follow_the_runbook_clocks() -> None:
    out = plan(detected_at="2024-01-15T14:23:00Z", now="2024-01-15T14:25:00Z")
    due = {t["check"]: t.get("due_at") for t in out["timers"]}
    assert due == {
        "acknowledge": "2024-01-15T14:25:00+00:00",
        "initial_communication": "2024-01-15T14:28:00+00:00",
        "status_update": "2024-01-15T14:40:00+00:00",
    }


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"incident_id": "42"}, "incident_id"),
        ({"severity": "SEV9"}, "severity"),
        ({"triage_report": []}, "triage_report"),
        ({"detected_at": "yesterday"}, "detected_at"),
    ],
)
def test_bad_inputs_name_the_field(bad: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        plan(**bad)


def test_without_an_owning_team_the_commander_is_someone_on_call_not_the_executive() -> None:
    context = {"people": PEOPLE, "teams": TEAMS, "services": SERVICES}
    out = plan(context=context, commander=None, service=None, triage_report={})
    assert out["commander"] == "oncall-backend"  # on call for backend, the first team
