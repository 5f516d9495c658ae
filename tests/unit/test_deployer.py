"""railway-deployer decides without I/O: targets, refusals, undo, approvals, checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.deployer.contract import DeployerInputs, DeployerRequest, FlagState
from so1.domain.platform import PlatformAction, PlatformDeployment
from so1.domain.severity import Severity

T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
SERVICE = "control-plane-api"


def dep(n: int, status: str = "SUCCESS", can_rollback: bool = True) -> PlatformDeployment:
    created = T0 + timedelta(hours=n)
    return PlatformDeployment(f"dep-{n}", SERVICE, status, created, f"v{n}", can_rollback, True)


HISTORY = [dep(4), dep(3, "FAILED", False), dep(2, "REMOVED"), dep(1, "REMOVED")]


def plan(
    action: str,
    severity: str | None = "SEV2",
    deployments: list[PlatformDeployment] | None = None,
    **asked: Any,
) -> dict[str, Any]:
    """The plan as kept in the run (its JSON is DESIGN §3's contract)."""
    request = DeployerRequest(PlatformAction(action), SERVICE, "INC-20240115-0042", **asked)
    inputs = DeployerInputs(
        request,
        Severity(severity) if severity else None,
        tuple(HISTORY if deployments is None else deployments),
        {"DATABASE_POOL_SIZE": "20"},
    )
    return RailwayDeployer().run(inputs).to_json()


def test_rollback_to_previous_skips_the_failed_build_and_keeps_an_undo() -> None:
    got = plan("rollback", target_version="previous")
    assert got["refused"] is None
    assert got["target"] == {"id": "dep-2", "version": "v2", "status": "REMOVED"}
    assert got["undo"] == {"action": "rollback", "target_version": "dep-4"}
    assert got["steps"][0] == "Roll back control-plane-api from v4 (dep-4) to v2 (dep-2)"
    assert any("verification" in check for check in got["post_checks"])
    assert got["risk"] == "medium" and got["needs_approval"] is False  # SEV2


def test_unsafe_rollback_targets_are_refused() -> None:
    assert "cannot be rolled back" in plan("rollback", target_version="v3")["refused"]
    assert "cannot be rolled back" in plan("rollback", target_version="dep-4")["refused"]  # live
    assert "no earlier deployment" in plan("rollback", deployments=[dep(1)])["refused"]
    busy = plan("rollback", deployments=[dep(5, "BUILDING"), *HISTORY])
    assert busy["refused"] == "deployment dep-5 is BUILDING; wait for it to finish"


def test_approvals_follow_risk_and_severity() -> None:
    sev1 = plan("rollback", severity="SEV1")
    assert sev1["needs_approval"] is True
    assert sev1["approval_reason"] == "medium risk during a SEV1 needs an approval"
    pool = plan("set_variables", severity="SEV0", variables={"DATABASE_POOL_SIZE": "50"})
    assert pool["needs_approval"] is False  # a low-risk configuration change
    assert plan("restart", severity="SEV4")["needs_approval"] is False


def test_the_seed_pool_change_plans_a_redeploy_and_an_undo() -> None:
    got = plan("set_variables", variables={"DATABASE_POOL_SIZE": "50"})
    assert got["strategy"] == "config_change"
    assert got["steps"] == [
        "Set DATABASE_POOL_SIZE=20→50 on control-plane-api",
        "Redeploy so the new values take effect; follow its logs",
    ]
    assert got["undo"] == {"action": "set_variables", "variables": {"DATABASE_POOL_SIZE": "20"}}
    assert plan("set_variables", variables={"NEW": "1"})["undo"] is None
    assert "NAME=string" in plan("set_variables", variables={"bad name": "1"})["refused"]
    assert plan("set_variables", variables={})["refused"] == "no variables given"


@pytest.mark.parametrize("replicas", [0, 51, None])  # "3" is refused at the edge
def test_scale_needs_a_sane_replica_count(replicas: int | None) -> None:
    assert "replicas must be" in plan("scale", replicas=replicas)["refused"]


def test_restart_and_redeploy_target_the_live_deployment() -> None:
    assert plan("restart")["target"]["id"] == "dep-4"
    assert plan("redeploy")["steps"][0] == "Redeploy control-plane-api from the build of v4 (dep-4)"
    assert plan("restart", deployments=[])["refused"] == "no deployment yet"
    assert plan("scale", replicas=3)["refused"] is None


def flag_plan(action: str, flag: FlagState | None) -> dict[str, Any]:
    request = DeployerRequest(PlatformAction(action), SERVICE, flag="bulk-execution")
    return RailwayDeployer().run(DeployerInputs(request, Severity.SEV2, flag=flag)).to_json()


def test_the_seed_flag_disable_plans_the_flip_its_check_and_its_undo() -> None:
    got = flag_plan("flag_disable", FlagState(True, SERVICE))
    assert got["refused"] is None
    assert (got["strategy"], got["risk"], got["needs_approval"]) == ("flag_disable", "low", False)
    assert got["steps"][0] == "Turn feature flag bulk-execution off for control-plane-api"
    assert got["post_checks"][0] == "OFREP evaluates bulk-execution to false"
    assert got["undo"] == {"action": "flag_enable", "flag": "bulk-execution"}
    back = flag_plan("flag_enable", FlagState(False))
    assert back["refused"] is None and back["risk"] == "low"
    assert back["undo"] == {"action": "flag_disable", "flag": "bulk-execution"}


def test_flag_flips_that_make_no_sense_are_refused() -> None:
    missing = flag_plan("flag_disable", None)
    assert missing["refused"] == "feature flag 'bulk-execution' does not exist"
    already = flag_plan("flag_disable", FlagState(False))
    assert already["refused"] == "'bulk-execution' is off"
    other = flag_plan("flag_disable", FlagState(True, "billing"))
    assert other["refused"] == "'bulk-execution' belongs to billing"


def test_a_flag_flip_does_not_wait_for_a_deployment() -> None:
    request = DeployerRequest(PlatformAction.FLAG_DISABLE, SERVICE, flag="bulk-execution")
    busy = DeployerInputs(request, Severity.SEV2, (dep(5, "BUILDING"),), flag=FlagState(True))
    assert RailwayDeployer().run(busy).refused is None
