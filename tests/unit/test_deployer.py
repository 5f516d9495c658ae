"""railway-deployer decides without I/O: targets, refusals, undo, approvals, checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from so1.agents.deployer.agent import RailwayDeployer

T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def dep(n: int, status: str = "SUCCESS", can_rollback: bool = True) -> dict[str, Any]:
    return {
        "id": f"dep-{n}",
        "version": f"v{n}",
        "status": status,
        "created_at": T0 + timedelta(hours=n),
        "can_rollback": can_rollback,
        "can_redeploy": True,
    }


HISTORY = [dep(4), dep(3, "FAILED", False), dep(2, "REMOVED"), dep(1, "REMOVED")]


def plan(
    action: str,
    severity: str | None = "SEV2",
    deployments: list[dict[str, Any]] | None = None,
    **inputs: Any,
) -> dict[str, Any]:
    context = {
        "severity": severity,
        "deployments": HISTORY if deployments is None else deployments,
        "variables": {"DATABASE_POOL_SIZE": "20"},
    }
    base = {"action": action, "service": "control-plane-api", "incident_id": "INC-20240115-0042"}
    return RailwayDeployer().run(base | inputs | {"context": context})


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


@pytest.mark.parametrize("replicas", [0, 51, "3", None])
def test_scale_needs_a_sane_replica_count(replicas: object) -> None:
    assert "replicas must be" in plan("scale", replicas=replicas)["refused"]


def test_restart_and_redeploy_target_the_live_deployment() -> None:
    assert plan("restart")["target"]["id"] == "dep-4"
    assert plan("redeploy")["steps"][0] == "Redeploy control-plane-api from the build of v4 (dep-4)"
    assert plan("restart", deployments=[])["refused"] == "no deployment yet"
    assert plan("scale", replicas=3)["refused"] is None


def flag_plan(action: str, flag: dict[str, Any] | None, **inputs: Any) -> dict[str, Any]:
    context = {"severity": "SEV2", "flag": flag}
    base = {"action": action, "service": "control-plane-api", "flag": "bulk-execution"}
    return RailwayDeployer().run(base | inputs | {"context": context})


def test_the_seed_flag_disable_plans_the_flip_its_check_and_its_undo() -> None:
    got = flag_plan("flag_disable", {"enabled": True, "service": "control-plane-api"})
    assert got["refused"] is None
    assert (got["strategy"], got["risk"], got["needs_approval"]) == ("flag_disable", "low", False)
    assert got["steps"][0] == "Turn feature flag bulk-execution off for control-plane-api"
    assert got["post_checks"][0] == "OFREP evaluates bulk-execution to false"
    assert got["undo"] == {"action": "flag_enable", "flag": "bulk-execution"}
    back = flag_plan("flag_enable", {"enabled": False, "service": None})
    assert back["refused"] is None and back["risk"] == "low"
    assert back["undo"] == {"action": "flag_disable", "flag": "bulk-execution"}


def test_flag_flips_that_make_no_sense_are_refused() -> None:
    missing = flag_plan("flag_disable", None)
    assert missing["refused"] == "feature flag 'bulk-execution' does not exist"
    already = flag_plan("flag_disable", {"enabled": False, "service": None})
    assert already["refused"] == "'bulk-execution' is off"
    other = flag_plan("flag_disable", {"enabled": True, "service": "billing"})
    assert other["refused"] == "'bulk-execution' belongs to billing"


def test_a_flag_flip_does_not_wait_for_a_deployment() -> None:
    busy = {"severity": "SEV2", "flag": {"enabled": True}, "deployments": [dep(5, "BUILDING")]}
    base = {"action": "flag_disable", "service": "control-plane-api", "flag": "bulk-execution"}
    assert RailwayDeployer().run(base | {"context": busy})["refused"] is None
