"""The JSON the typed agents' reports keep in runs (and `/v1/orchestrate` returns) has the
shape it had when agents returned dicts: the fields, which are present when, and their
JSON types. Reading a kept report back gives what was planned."""

from __future__ import annotations

from typing import Any

import pytest

from so1.agents.deployer.contract import DeployerRequest, FlagState, KeptPlan, Undo
from so1.domain.platform import PlatformAction
from so1.domain.postmortem import AnalysisMethod
from so1.domain.severity import Severity
from tests.unit import (
    test_commander as commander,
    test_deployer as deployer,
    test_postmortem as postmortem,
)

PLAN_FIELDS = {
    "incident_id": str,
    "severity": str,
    "status": str,
    "channel": str,
    "private": bool,
    "topic": str,
    "owning_team": (str, type(None)),
    "most_affected_service": (str, type(None)),
    "commander": (str, type(None)),
    "commander_role": str,
    "backup": (str, type(None)),
    "lead": (str, type(None)),
    "executive": (str, type(None)),
    "responders": list,
    "decisions": list,
    "messages": list,
    "pages": list,
    "timers": list,
    "similar_incidents": list,
}
DEPLOYER_COMMON = [
    "action",
    "service",
    "current",
    "pre_checks",
    "refused",
    "strategy",
    "risk",
    "speed",
    "needs_approval",
    "approval_reason",
]
DRAFT_FIELDS = [
    "incident_id",
    "title",
    "severity",
    "analysis_method",
    "key_times",
    "late_checks",
    "timeline",
    "root_cause",
    "responders",
    "durations",
    "impact",
    "summary",
    "whys",
    "contributing_factors",
    "action_items",
    "went_well",
    "lucky",
    "missing",
]


def _typed(found: dict[str, Any], fields: dict[str, Any]) -> None:
    assert list(found) == list(fields)
    for name, kind in fields.items():
        assert isinstance(found[name], kind), (name, found[name])


def test_the_commander_plan_keeps_its_fields_and_types() -> None:
    plan = commander.with_context(severity=Severity.SEV1)
    _typed(plan, PLAN_FIELDS)
    assert plan["status"] == "completed"
    war_room, status_page = plan["messages"][:2]
    assert list(war_room) == ["to", "audience", "kind", "text"]
    assert list(status_page) == ["to", "audience", "kind", "text", "title", "state"]
    assert {tuple(p) for p in plan["pages"]} == {("handle", "reason", "policy")}
    timers = [list(t) for t in plan["timers"]]
    assert timers == [["check", "due_in_minutes"]] * 2 + [
        ["check", "due_in_minutes", "every_minutes"]
    ]


@pytest.mark.parametrize(
    ("action", "asked", "planned"),
    [
        ("rollback", {}, ["target", "steps", "undo"]),
        ("rollback", {"target_version": "nope"}, []),  # refused before a target was found
        ("restart", {}, ["target", "steps", "undo"]),
        ("redeploy", {}, ["target", "steps", "undo"]),
        ("set_variables", {"variables": {"POOL": "5"}},
         ["variables", "previous_variables", "apply", "steps", "undo"]),
        ("scale", {"replicas": 3}, ["replicas", "steps", "undo"]),
    ],
)  # fmt: skip
def test_the_deployer_plan_keeps_its_fields_per_action(
    action: str, asked: dict[str, Any], planned: list[str]
) -> None:
    plan = deployer.plan(action, **asked)
    assert list(plan) == [*DEPLOYER_COMMON, *planned, "post_checks"]
    assert [list(c) for c in plan["pre_checks"]] == [["check", "ok", "detail"]] * len(
        plan["pre_checks"]
    )
    assert list(plan["current"]) == ["id", "version", "status"]


def test_a_flag_plan_without_the_flag_stops_at_its_target() -> None:
    missing = deployer.flag_plan("flag_disable", None)
    assert list(missing) == [*DEPLOYER_COMMON, "flag", "enabled", "target", "post_checks"]
    assert missing["target"] == {"id": "bulk-execution", "enabled": None}
    found = deployer.flag_plan("flag_disable", FlagState(True))
    assert list(found)[-3:] == ["steps", "undo", "post_checks"]


def test_a_kept_plan_reads_back_its_target_steps_and_undo() -> None:
    plan = deployer.plan("set_variables", variables={"DATABASE_POOL_SIZE": "50"})
    kept = KeptPlan.from_json(plan)
    assert kept.target_id is None and kept.steps == tuple(plan["steps"])
    assert kept.undo == Undo(PlatformAction.SET_VARIABLES, variables={"DATABASE_POOL_SIZE": "20"})
    assert kept.undo.to_json() == plan["undo"]
    rollback = KeptPlan.from_json(deployer.plan("rollback"))
    assert (rollback.target_id, rollback.undo) == (
        "dep-2",
        Undo(PlatformAction.ROLLBACK, target_version="dep-4"),
    )


def test_a_kept_request_reads_back_as_it_was_asked() -> None:
    asked = DeployerRequest(
        PlatformAction.SET_VARIABLES, "api", "INC-20240115-0042", variables={"A": "1"}, apply=False
    )
    kept = asked.to_json()
    assert kept == {
        "action": "set_variables",
        "service": "api",
        "incident_id": "INC-20240115-0042",
        "variables": {"A": "1"},
        "apply": False,
    }
    assert DeployerRequest.from_json(kept) == asked


def test_the_postmortem_draft_keeps_its_fields() -> None:
    made = postmortem.draft().to_json()
    assert list(made) == DRAFT_FIELDS
    fishbone = postmortem.draft(AnalysisMethod.FISHBONE).to_json()
    assert "whys" not in fishbone and list(fishbone["fishbone"]) == [
        "technology",
        "change",
        "monitoring",
        "process",
        "people",
    ]
    timeline = postmortem.draft(AnalysisMethod.TIMELINE_ONLY).to_json()
    assert "whys" not in timeline and "fishbone" not in timeline
    assert list(made["root_cause"]) == [
        "cause",
        "confidence",
        "evidence",
        "statement",
        "source",
        "title",
        "rejected",
        "confirmed_by",
    ]
    assert list(made["late_checks"][0]) == [
        "id",
        "title",
        "phase",
        "state",
        "due_at",
        "done_at",
        "evidence",
        "escalate",
        "occurrence",
    ]
    assert made["impact"]["severity_history"] == [
        {"from": None, "to": "SEV2", "at": postmortem.T0.isoformat(), "actor": "triage",
         "reason": "triage"}
    ]  # fmt: skip
    assert list(made["action_items"][0]) == [
        "title",
        "priority",
        "owner",
        "owner_missing",
        "due",
        "addresses",
    ]
