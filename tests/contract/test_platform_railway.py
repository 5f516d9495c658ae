"""The railway platform adapter against Railway's GraphQL API v2 on httpx.MockTransport (and
on a local server for the retries): deployments, rollback only where canRollback, variables
upserted with skipDeploys and applied by one redeploy, 429 Retry-After, errors[] as failures."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from so1.adapters.platform.railway import RailwayPlatform
from so1.adapters.platform.railway_client import API, ATTEMPTS, RailwayClient
from so1.domain.platform import rollback_target
from so1.errors import AuthFailed, NotFound, RateLimited, Rejected
from tests.contract.railway_server import (
    ENVIRONMENT,
    PROJECT,
    TOKEN,
    RailwayState,
    railway_http,
    railway_server,
)

SERVICE, SERVICE_ID = "control-plane-api", "svc-cpa"


class World:
    """The adapter and Railway's state: in process (MockTransport) unless a ``url`` of a
    local server is given."""

    def __init__(self, state: RailwayState, url: str | None = None) -> None:
        self.state, self.url = state, url or API
        self.slept: list[float] = []
        self.platform = self.make(TOKEN)

    def make(self, token: str) -> RailwayPlatform:
        http = railway_http(self.state) if self.url == API else httpx.Client(timeout=5)
        client = RailwayClient(token, http, self.url, sleep=self.slept.append)
        return RailwayPlatform(client, PROJECT, ENVIRONMENT, {SERVICE: SERVICE_ID})

    def names(self) -> list[str]:
        return [name for name, _ in self.state.calls]


def history(state: RailwayState) -> RailwayState:
    state.add(SERVICE_ID, commit="a1")
    state.add(SERVICE_ID, commit="b2")
    state.add(SERVICE_ID, status="FAILED", commit="c3", can_rollback=False)
    state.add(SERVICE_ID, commit="d4")  # live: 4 hours after the bad c3
    return state


@pytest.fixture
def world() -> World:
    return World(history(RailwayState()))


@pytest.fixture
def served() -> Iterator[World]:
    """Over real sockets: the retries wait on real answers of a local server."""
    with railway_server() as (url, state):
        yield World(history(state), url)


def test_deployments_newest_first_and_the_rollback_target(world: World) -> None:
    found = world.platform.deployments(SERVICE)
    assert [d.version for d in found] == ["d4", "c3", "b2", "a1"]
    assert [d.status for d in found] == ["SUCCESS", "FAILED", "REMOVED", "REMOVED"]
    target = rollback_target(found)
    assert target is not None and target.version == "b2"  # the failed c3 is skipped
    assert rollback_target(found, "c3") is None


def test_rollback_to_the_previous_deployment(world: World) -> None:
    target = rollback_target(world.platform.deployments(SERVICE))
    assert target is not None
    new_id = world.platform.rollback(SERVICE, target.id)
    assert world.state.find(new_id)["meta"]["commitHash"] == "b2"  # type: ignore[index]
    assert ("deploymentRollback", {"id": target.id}) in world.state.calls

    failed = world.platform.deployments(SERVICE)[2]
    calls = len(world.state.calls)
    with pytest.raises(Rejected, match="canRollback is false"):
        world.platform.rollback(SERVICE, failed.id)
    assert "deploymentRollback" not in world.names()[calls:]


def test_variables_skip_deploys_then_one_redeploy_applies_them(world: World) -> None:
    before = len(world.state.deployments[SERVICE_ID])
    new_id = world.platform.set_variables(SERVICE, {"DATABASE_POOL_SIZE": "50", "X": "1"}, True)
    upserts = [v["input"] for name, v in world.state.calls if name == "variableUpsert"]
    assert [u["skipDeploys"] for u in upserts] == [True, True]
    assert world.names().count("serviceInstanceRedeploy") == 1
    assert len(world.state.deployments[SERVICE_ID]) == before + 1
    assert new_id == world.platform.deployments(SERVICE, 1)[0].id
    assert world.platform.variables(SERVICE) == {"DATABASE_POOL_SIZE": "50", "X": "1"}
    assert world.platform.set_variables(SERVICE, {"Y": "2"}, False) is None
    assert len(world.state.deployments[SERVICE_ID]) == before + 1


def test_redeploy_restart_scale_and_logs(world: World) -> None:
    live = world.platform.deployments(SERVICE)[0]
    new_id = world.platform.redeploy(SERVICE, live.id)
    assert world.state.find(new_id)["meta"]["commitHash"] == "d4"  # type: ignore[index]
    redeploy_args = next(v for n, v in world.state.calls if n == "deploymentRedeploy")
    assert redeploy_args == {"id": live.id, "usePreviousImageTag": True}
    world.platform.restart(SERVICE, new_id)
    assert ("deploymentRestart", {"id": new_id}) in world.state.calls
    world.platform.scale(SERVICE, 3)
    assert world.state.replicas == {SERVICE_ID: 3}
    lines = world.platform.logs(SERVICE, new_id)
    assert [line.message for line in lines] == [
        "Starting with DATABASE_POOL_SIZE=50",
        "Listening on :8080",
    ]


def test_429_waits_for_retry_after_and_5xx_is_retried(served: World) -> None:
    world = served
    world.state.fail_next += [(429, {"Retry-After": "3"}), (502, {})]
    assert len(world.platform.deployments(SERVICE)) == 4
    assert world.slept == [3.0, 2.0]
    assert world.names() == ["deployments"] * 3  # the same query, three times

    world.state.fail_next += [(429, {"Retry-After": "1"})] * ATTEMPTS
    with pytest.raises(RateLimited):
        world.platform.deployments(SERVICE)


def test_errors_in_a_200_are_failures_and_never_retried(world: World) -> None:
    stranger = world.make("wrong-token")
    with pytest.raises(AuthFailed, match="Not Authorized"):
        stranger.deployments(SERVICE)
    assert world.names() == ["deployments"]
    with pytest.raises(NotFound, match="SO1_RAILWAY_SERVICES"):
        world.platform.deployments("unknown-service")
    with pytest.raises(NotFound, match="does not exist"):
        world.platform.restart(SERVICE, "dep-999")
