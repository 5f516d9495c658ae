"""The incident-commander agent: the seed's Phase 2 example and the commander table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from so1.agents.commander.agent import IncidentCommander
from so1.agents.commander.comms import render_resolved, render_update_reminder
from so1.agents.commander.contract import CommanderInputs, TeamInfo, TriageFindings
from so1.domain.catalog import CatalogService, Tier
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.oncall import Person, Seniority
from so1.domain.severity import Severity

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
    Person("oncall-backend", team="backend"),
    Person("bo", team="backend", seniority=Seniority.SENIOR),
    Person("cy", team="backend"),
    Person("eng-lead", team="backend", seniority=Seniority.LEAD),
    Person("cto", seniority=Seniority.EXECUTIVE),
    Person("dee", team="data", seniority=Seniority.SENIOR),
]
TEAMS = [
    TeamInfo("backend", "eng-lead", "backend-default", "oncall-backend", "backend-primary",
             ("bo", "cy")),
    TeamInfo("data", "eng-lead", None, "dee", "data-primary"),
]  # fmt: skip
SERVICES = [
    CatalogService("control-plane-api", Tier.CRITICAL, "backend", public_name="API"),
    CatalogService("postgres-primary", Tier.CRITICAL, "data"),
]


def seed(**changes: Any) -> CommanderInputs:
    """The seed's Phase 2 call, as the service hands it to the agent."""
    report = changes.pop("triage_report", SEED_INPUTS["triage_report"])
    base = CommanderInputs(
        incident_id=SEED_INPUTS["incident_id"],
        severity=Severity.SEV2,
        title=SEED_INPUTS["title"],
        status="Investigating",
        service=None,
        detected_at=None,
        now=None,
        findings=TriageFindings.from_report(report),
        requested_commander=SEED_INPUTS["commander"],
        channel=SEED_INPUTS["channel"],
    )
    return replace(base, **changes)


def plan(**changes: Any) -> dict[str, Any]:
    """The plan as kept in the run (its JSON is DESIGN §3's contract)."""
    return IncidentCommander().run(seed(**changes)).to_json()


def context(
    people: list[Person] = PEOPLE, teams: list[TeamInfo] = TEAMS, away: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "people": {p.handle: p for p in people},
        "teams": {t.name: t for t in teams},
        "services": {s.name: s for s in SERVICES},
        "away": frozenset(away),
    }


def with_context(**changes: Any) -> dict[str, Any]:
    return plan(service="control-plane-api", requested_commander=None, **context(), **changes)


def test_seed_example_gives_the_seed_channel_topic_commander_and_message() -> None:
    out = plan()
    assert out["channel"] == "#incident-20240115-0042"
    assert out["topic"] == "SEV2: API error rate spike | Commander: @oncall-backend"
    assert out["commander"] == "oncall-backend"
    (internal,) = out["messages"]  # SEV2: no status page, no escalation
    assert (internal["to"], internal["text"]) == ("war_room", SEED_INTERNAL)
    assert [p["handle"] for p in out["pages"]] == ["oncall-backend"]


def test_seed_example_as_sev1_posts_the_status_page_and_escalates_to_the_lead() -> None:
    out = with_context(severity=Severity.SEV1)
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
    out = with_context(severity=Severity.SEV0)
    assert (out["commander"], out["executive"]) == ("eng-lead", "cto")
    all_hands = next(m for m in out["messages"] if m["kind"] == "all_hands")
    assert all_hands["text"].startswith("@channel 🚨 SEV0 INCIDENT:")
    assert "#incident-20240115-0042" in all_hands["text"]
    assert {"eng-lead", "cto"} <= set(out["responders"])


@pytest.mark.parametrize("severity", [Severity.SEV2, Severity.SEV3])
def test_on_call_engineer_commands_sev2_and_sev3(severity: Severity) -> None:
    out = with_context(severity=severity)
    assert (out["commander"], out["backup"]) == ("oncall-backend", "bo")


def test_commander_on_time_off_is_replaced_by_the_backup_from_the_rotation() -> None:
    teams = [replace(TEAMS[0], on_call="bo", backups=("cy",), skipped=("oncall-backend",))]
    room = context(teams=teams, away=("oncall-backend",))
    out = plan(service="control-plane-api", **room)  # oncall-backend requested
    assert out["commander"] == "bo"
    assert any("unavailable" in d for d in out["decisions"])
    assert any("backup @bo" in d for d in out["decisions"])


def test_multi_team_incident_is_led_by_the_most_affected_services_owner() -> None:
    counts = {"control-plane-api": 2, "postgres-primary": 9}
    room = context()
    out = plan(service="control-plane-api", requested_commander=None, alert_counts=counts, **room)
    assert (out["owning_team"], out["most_affected_service"], out["commander"]) == (
        "data",
        "postgres-primary",
        "dee",
    )
    assert "oncall-backend" in out["responders"]  # the other team's on-call joins
    assert any("several teams" in d for d in out["decisions"])


def test_security_incident_is_private_and_never_on_the_status_page() -> None:
    report = {"hypotheses": [{"cause": "security_breach", "confidence": 0.9}]}
    out = with_context(severity=Severity.SEV0, triage_report=report)
    assert out["private"] is True
    assert all(m["to"] != "status_page" for m in out["messages"])
    assert "DO NOT publicly disclose" in out["messages"][0]["text"]


def test_timers_follow_the_runbook_clocks() -> None:
    detected, now = (
        datetime(2024, 1, 15, 14, 23, tzinfo=UTC),
        datetime(2024, 1, 15, 14, 25, tzinfo=UTC),
    )
    out = plan(detected_at=detected, now=now)
    due = {t["check"]: t.get("due_at") for t in out["timers"]}
    assert due == {
        "acknowledge": "2024-01-15T14:25:00+00:00",
        "initial_communication": "2024-01-15T14:28:00+00:00",
        "status_update": "2024-01-15T14:40:00+00:00",
    }


def test_without_times_the_clocks_run_from_now() -> None:
    due = {t["check"]: t.get("due_in_minutes") for t in plan()["timers"]}
    assert due == {"acknowledge": 2.0, "initial_communication": 5.0, "status_update": 15.0}
    assert plan()["timers"][2]["every_minutes"] == 15


def test_without_an_owning_team_the_commander_is_someone_on_call_not_the_executive() -> None:
    out = plan(requested_commander=None, service=None, triage_report={}, **context())
    assert out["commander"] == "oncall-backend"  # on call for backend, the first team


def test_with_no_one_to_command_the_messages_say_unassigned_not_a_handle() -> None:
    """No request, no one on call: no "@unassigned" that reads like somebody's handle."""
    out = plan(requested_commander=None, **context(people=[], teams=[]))
    assert out["commander"] is None
    assert out["topic"] == "SEV2: API error rate spike | Commander: unassigned"
    (internal,) = out["messages"]
    assert "**Commander**: unassigned\n" in internal["text"]
    assert "@unassigned" not in internal["text"]


def test_reminders_and_resolutions_without_a_commander_name_no_one() -> None:
    t0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    incident = Incident(
        id="INC-20240115-0042",
        title="API error rate spike",
        status=IncidentStatus.INVESTIGATING,
        severity=Severity.SEV2,
        detected_at=t0,
        created_at=t0,
        updated_at=t0,
    )
    reminder = render_update_reminder(incident, t0, [])
    assert reminder.startswith("⏰ @here: the next update is due at 14:00 UTC")
    internal, _ = render_resolved(incident, None)
    assert "**Commander**: unassigned" in internal
    named = replace(incident, commander="oncall-backend")
    assert render_update_reminder(named, t0, []).startswith("⏰ @oncall-backend:")
    assert "**Commander**: @oncall-backend" in render_resolved(named, None)[0]
