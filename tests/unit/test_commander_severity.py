"""The incident-commander's plan for a severity change (agents/commander/severity.py): only
what the new level adds and the outbox does not hold yet; pure, so tested without I/O."""

from __future__ import annotations

from so1.agents.commander.severity import DoneSoFar, SeverityShift, plan_severity_change
from so1.domain.comms import Destination
from so1.domain.severity import Severity
from tests.unit.test_commander import context, seed

DECLARED = frozenset({(Destination.WAR_ROOM, "declared"), (Destination.PAGER, "page")})
WAR_ROOM_AT_SEV2 = DoneSoFar(DECLARED, frozenset({"oncall-backend"}), "oncall-backend")


def shift(before: Severity, after: Severity) -> SeverityShift:
    return SeverityShift(before, after, "checkout failing too", "ana")


def kinds(done: DoneSoFar, before: Severity, after: Severity, **changes: object) -> list[str]:
    inputs = seed(service="control-plane-api", **context(), **changes)
    plan = plan_severity_change(inputs, shift(before, after), done)
    return [f"{m.to.value}:{m.kind}" for m in plan.messages] + [
        f"page:{p.handle}" for p in plan.pages
    ]


def test_raising_within_sev2_4_only_says_so_in_the_war_room() -> None:
    assert kinds(WAR_ROOM_AT_SEV2, Severity.SEV3, Severity.SEV2) == ["war_room:severity_changed"]


def test_raising_to_sev1_adds_the_notice_the_escalation_and_a_senior_commander() -> None:
    inputs = seed(service="control-plane-api", **context())
    plan = plan_severity_change(inputs, shift(Severity.SEV2, Severity.SEV1), WAR_ROOM_AT_SEV2)
    assert [f"{m.to.value}:{m.kind}" for m in plan.messages] == [
        "status_page:declared",
        "war_room:escalation",
        "war_room:severity_changed",
    ]
    assert [p.handle for p in plan.pages] == ["bo", "eng-lead"]
    assert plan.commander == "bo" and plan.topic.startswith("SEV1: ")
    assert "@bo" in plan.messages[-1].text and "checkout failing too" in plan.messages[-1].text


def test_what_the_outbox_holds_is_not_planned_again() -> None:
    said = DECLARED | {
        (Destination.STATUS_PAGE, "declared"),
        (Destination.WAR_ROOM, "escalation"),
    }
    done = DoneSoFar(said, frozenset({"bo", "eng-lead"}), "bo", public_title="API Issues")
    # eng-lead, paged already as the lead, now commands (SEV0): not paged twice
    assert kinds(done, Severity.SEV1, Severity.SEV0) == [
        "war_room:all_hands",
        "war_room:severity_changed",
        "page:cto",
    ]


def test_a_security_incident_never_reaches_the_status_page() -> None:
    report = {"hypotheses": [{"cause": "security_breach", "confidence": 0.9}]}
    found = kinds(WAR_ROOM_AT_SEV2, Severity.SEV2, Severity.SEV1, triage_report=report)
    assert "status_page:declared" not in found and "war_room:escalation" in found


def test_lowering_tells_customers_only_when_they_were_told() -> None:
    silent = DoneSoFar(DECLARED, frozenset({"bo", "eng-lead"}), "bo")
    assert kinds(silent, Severity.SEV1, Severity.SEV2) == ["war_room:severity_changed"]
    spoke = DoneSoFar(DECLARED, frozenset({"bo", "eng-lead"}), "bo", public_title="API Issues")
    assert kinds(spoke, Severity.SEV1, Severity.SEV2)[0] == "status_page:update"
    inputs = seed(service="control-plane-api", **context())
    plan = plan_severity_change(inputs, shift(Severity.SEV1, Severity.SEV2), spoke)
    assert plan.unpage == ("eng-lead",) and plan.commander == "bo"


def test_lowering_from_sev0_stops_the_executive_and_leaves_the_commander_paged() -> None:
    paged = frozenset({"bo", "eng-lead", "cto"})
    done = DoneSoFar(DECLARED, paged, "eng-lead", public_title="API Issues")
    inputs = seed(service="control-plane-api", **context())
    plan = plan_severity_change(inputs, shift(Severity.SEV0, Severity.SEV2), done)
    assert plan.unpage == ("cto",)  # eng-lead commands; bo was paged as a person, kept
    assert "executive escalation no longer apply" in plan.messages[-1].text
