"""Phase 3, mitigation: a platform action requested through the railway-deployer, held for
approval when the runbook says so, the two-person rule, and the action carried out on the
platform (followed to the end, recorded as a deployment, audited on the timeline)."""

from __future__ import annotations

import pytest

from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.deployer.contract import DeployerRequest
from so1.domain.platform import PlatformAction
from so1.domain.records import RunStatus
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import Conflict, Forbidden
from so1.services.incidents.recording import Actor
from so1.services.mitigation.runs import DeployerDeps, decide_approval, deployer_request
from tests.fakes import FakeClock, FakeDatabase, FakePlatform, InlineBackground
from tests.service.conftest import ALICE, BOB, open_incident

SERVICE = "control-plane-api"


@pytest.fixture
def platform() -> FakePlatform:
    found = FakePlatform()
    found.add_service(SERVICE, "v2.13.2", "v2.14.0")
    return found


def deps_on(platform: FakePlatform) -> DeployerDeps:
    return DeployerDeps(RailwayDeployer(), platform, InlineBackground(), poll_seconds=0.0)


def rollback_during_sev1(db: FakeDatabase, clock: FakeClock) -> DeployerRequest:
    incident = open_incident(db, clock, severity=Severity.SEV1, service=SERVICE)
    return DeployerRequest(PlatformAction.ROLLBACK, SERVICE, incident.id, "previous")


def kinds(db: FakeDatabase) -> list[str]:
    return [e.kind for e in db.committed().timeline if e.kind.startswith("mitigation.")]


def test_a_rollback_during_a_sev1_waits_for_approval(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    request = rollback_during_sev1(db, clock)
    run = deployer_request(db.uow, clock, ALICE, deps_on(platform), request)

    assert run.status is RunStatus.AWAITING_APPROVAL
    assert db.committed().agent_runs[run.id].status is RunStatus.AWAITING_APPROVAL
    assert kinds(db) == [EventKind.MITIGATION_AWAITING_APPROVAL]
    assert platform.actions == []


@pytest.mark.parametrize(
    "approver",
    [ALICE, Actor("alice-laptop-key", key_id="k_other", person="alice")],
    ids=["same key", "same person, another key"],
)
def test_the_requester_cannot_approve_their_own_action(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform, approver: Actor
) -> None:
    run = deployer_request(db.uow, clock, ALICE, deps_on(platform), rollback_during_sev1(db, clock))
    with pytest.raises(Conflict, match="someone other than its requester"):
        decide_approval(db.uow, clock, approver, deps_on(platform), run.id, approve=True)
    assert db.committed().agent_runs[run.id].status is RunStatus.AWAITING_APPROVAL
    assert platform.actions == []


def test_another_person_approves_and_the_rollback_runs(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    deps = deps_on(platform)
    run = deployer_request(db.uow, clock, ALICE, deps, rollback_during_sev1(db, clock))
    target = platform.deployments(SERVICE)[1]  # v2.13.2, the one before the live one

    decide_approval(db.uow, clock, BOB, deps, run.id, approve=True)

    assert platform.actions == [("rollback", SERVICE, target.id)]
    done = db.committed().agent_runs[run.id]
    assert done.status is RunStatus.COMPLETED and done.error is None
    assert done.output is not None and done.output["approved_by"] == BOB.name
    assert done.output["result"]["deployment"]["version"] == "v2.13.2"
    assert kinds(db) == [
        EventKind.MITIGATION_AWAITING_APPROVAL,
        EventKind.MITIGATION_APPROVED,
        EventKind.MITIGATION_PROGRESS,
        EventKind.MITIGATION_FINISHED,
    ]
    [rollout] = db.committed().deployments
    assert (rollout.service, rollout.version, rollout.status) == (SERVICE, "v2.13.2", "succeeded")


def test_a_declined_action_never_reaches_the_platform(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    deps = deps_on(platform)
    run = deployer_request(db.uow, clock, ALICE, deps, rollback_during_sev1(db, clock))

    declined = decide_approval(db.uow, clock, BOB, deps, run.id, approve=False)

    assert (declined.status, declined.error) == (RunStatus.FAILED, f"declined by {BOB.name}")
    assert platform.actions == []
    assert kinds(db)[-1] == EventKind.MITIGATION_DECLINED
    with pytest.raises(Conflict, match="not awaiting approval"):
        decide_approval(db.uow, clock, BOB, deps, run.id, approve=True)


def test_a_rollout_that_fails_fails_the_run(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    platform.outcome = "CRASHED"
    deps = deps_on(platform)
    run = deployer_request(db.uow, clock, ALICE, deps, rollback_during_sev1(db, clock))
    decide_approval(db.uow, clock, BOB, deps, run.id, approve=True)

    done = db.committed().agent_runs[run.id]
    assert done.status is RunStatus.FAILED
    assert done.error is not None and done.error.endswith("ended CRASHED")
    assert kinds(db)[-1] == EventKind.MITIGATION_FAILED
    assert [d.status for d in db.committed().deployments] == ["failed"]


def test_a_low_risk_action_outside_an_incident_runs_at_once(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    background = InlineBackground()
    deps = DeployerDeps(RailwayDeployer(), platform, background, poll_seconds=0.0)
    request = DeployerRequest(PlatformAction.SCALE, SERVICE, replicas=4)

    run = deployer_request(db.uow, clock, ALICE, deps, request)

    assert run.status is RunStatus.RUNNING and background.ran == 1
    assert platform.replicas_of == {SERVICE: 4}
    assert db.committed().agent_runs[run.id].status is RunStatus.COMPLETED
    assert db.committed().timeline == []  # no incident: audited only
    assert [r.action for r in db.committed().audit] == [
        "platform.action.requested",
        "platform.action.done",
    ]


def test_a_key_without_the_deploy_scope_is_refused(
    db: FakeDatabase, clock: FakeClock, platform: FakePlatform
) -> None:
    viewer = Actor("viewer", key_id="k_v", can_deploy=False)
    request = DeployerRequest(PlatformAction.SCALE, SERVICE, replicas=4)
    with pytest.raises(Forbidden, match="deploy"):
        deployer_request(db.uow, clock, viewer, deps_on(platform), request)
    assert db.committed().agent_runs == {} and platform.actions == []
