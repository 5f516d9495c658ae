"""The local platform adapter against a real supervisord (the ``supervisor`` package) running a
small HTTP app this test writes: every action is checked on the app's real answers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from so1.adapters.platform.local import LocalPlatform, add_release
from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.deployer.contract import DeployerRequest
from so1.bootstrap import Container
from so1.domain.platform import PlatformAction
from so1.domain.records import RunStatus
from so1.errors import AuthFailed, NotFound, Rejected, Unavailable
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor
from so1.services.mitigation.runs import DeployerDeps, deployer_request
from so1.services.orchestration import get_run

pytestmark = pytest.mark.slow

SUPERVISORD = Path(sys.executable).parent / "supervisord"
SERVICE = "checkout"
USER, PASSWORD = "so1", "s3cret:/@"
START_TIMEOUT = 10.0
STAMP = datetime(2024, 1, 15, 14, 45, 30, tzinfo=UTC)
APP = f"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

RELEASE = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        pool = os.environ.get("DATABASE_POOL_SIZE")
        body = json.dumps({{"release": RELEASE, "pool": pool}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("{STAMP.isoformat()} INFO " + RELEASE + " listening", flush=True)
server.serve_forever()
"""
CONF = """[supervisord]
nodaemon=true
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
childlogdir={tmp}

[inet_http_server]
port=127.0.0.1:{port}
username={user}
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:checkout]
command={python} -m so1.adapters.platform.local_launcher {root}/checkout
autostart=true
startsecs=1
stopwaitsecs=5
redirect_stderr=true
stdout_logfile={tmp}/checkout.log
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_release(root: Path, name: str, command: list[str] | None = None) -> None:
    folder = add_release(root, SERVICE, name, command or [sys.executable, "app.py", name])
    (folder / "app.py").write_text(APP)


@dataclass
class Local:
    platform: LocalPlatform
    root: Path
    app_port: int
    rpc_url: str
    supervisord: subprocess.Popen[bytes]

    def answer(self) -> Any:
        return httpx.get(f"http://127.0.0.1:{self.app_port}/", timeout=5).json()

    def pid(self) -> int:
        authed = self.rpc_url.replace("://", f"://{USER}:{quote(PASSWORD, '')}@") + "/RPC2"
        with xmlrpc.client.ServerProxy(authed) as proxy:
            info: Any = proxy.supervisor.getProcessInfo(SERVICE)
        return int(info["pid"])

    def env(self) -> Any:
        return json.loads((self.root / SERVICE / "env.json").read_text())


def wait_running(platform: LocalPlatform) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if platform.deployments(SERVICE, 1)[0].status == "SUCCESS":
                return
        except Unavailable:
            pass
        time.sleep(0.1)
    pytest.fail("supervisord did not start the checkout app")


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    """supervisord running checkout: v1 as it found it (checkout-1), then v2 (checkout-2)."""
    root = tmp_path / "services"
    make_release(root, "v1")
    make_release(root, "v2")
    rpc_port, app_port = free_port(), free_port()
    url = f"http://127.0.0.1:{rpc_port}"
    platform = LocalPlatform(root, url, USER, PASSWORD, start_timeout=START_TIMEOUT)
    assert platform.set_variables(SERVICE, {"PORT": str(app_port)}, apply=False) is None
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        CONF.format(
            tmp=tmp_path,
            port=rpc_port,
            user=USER,
            password=PASSWORD,
            python=sys.executable,
            root=root,
        )
    )
    process = subprocess.Popen([str(SUPERVISORD), "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        wait_running(platform)
        assert platform.deploy(SERVICE, "v2") == "checkout-2"
        yield Local(platform, root, app_port, url, process)
    finally:
        process.terminate()
        process.wait(20)


def test_deployments_list_the_running_release(local: Local) -> None:
    found = local.platform.deployments(SERVICE)
    assert [(d.id, d.version, d.status) for d in found] == [
        ("checkout-2", "v2", "SUCCESS"),
        ("checkout-1", "v1", "SUCCESS"),
    ]
    assert all(d.can_rollback and d.can_redeploy for d in found)
    assert found[0].created_at > found[1].created_at
    assert local.platform.deployments(SERVICE, 1) == found[:1]
    assert local.platform.deployment(SERVICE, "checkout-1") == found[1]
    assert local.answer() == {"release": "v2", "pool": None}


def test_set_variables_reach_the_process(local: Local) -> None:
    applied = local.platform.set_variables(SERVICE, {"DATABASE_POOL_SIZE": "50"}, apply=True)
    assert applied == "checkout-3"
    assert local.answer() == {"release": "v2", "pool": "50"}
    newest = local.platform.deployments(SERVICE)[0]
    assert (newest.id, newest.version, newest.status) == ("checkout-3", "v2", "SUCCESS")

    assert local.platform.set_variables(SERVICE, {"DATABASE_POOL_SIZE": "80"}, False) is None
    assert local.env()["DATABASE_POOL_SIZE"] == "80"
    assert local.platform.variables(SERVICE) == {
        "PORT": str(local.app_port),
        "DATABASE_POOL_SIZE": "80",
    }
    assert local.answer()["pool"] == "50"  # not rolled out
    assert [d.id for d in local.platform.deployments(SERVICE)] == [
        f"checkout-{n}" for n in (3, 2, 1)
    ]


def test_rollback_serves_the_old_release(local: Local) -> None:
    assert local.platform.rollback(SERVICE, "checkout-1") == "checkout-3"
    assert local.answer() == {"release": "v1", "pool": None}
    newest = local.platform.deployments(SERVICE)[0]
    assert (newest.id, newest.version, newest.status) == ("checkout-3", "v1", "SUCCESS")
    assert (local.root / SERVICE / "current").read_text() == "v1"

    with pytest.raises(Rejected, match="current deployment"):
        local.platform.rollback(SERVICE, "checkout-3")
    with pytest.raises(NotFound, match="checkout-99"):
        local.platform.rollback(SERVICE, "checkout-99")
    (local.root / SERVICE / "releases" / "v2" / "release.json").unlink()
    (local.root / SERVICE / "releases" / "v2" / "app.py").unlink()
    (local.root / SERVICE / "releases" / "v2").rmdir()
    assert not local.platform.deployment(SERVICE, "checkout-2").can_rollback
    with pytest.raises(Rejected, match="gone"):
        local.platform.rollback(SERVICE, "checkout-2")
    assert local.answer()["release"] == "v1"


def test_restart_keeps_the_release_and_logs_show_it(local: Local) -> None:
    before = local.pid()
    local.platform.restart(SERVICE, "checkout-2")
    assert local.pid() != before
    assert local.answer()["release"] == "v2"
    assert [d.id for d in local.platform.deployments(SERVICE)] == ["checkout-2", "checkout-1"]
    with pytest.raises(Rejected, match="checkout-2"):
        local.platform.restart(SERVICE, "checkout-1")

    lines = local.platform.logs(SERVICE, "checkout-2", 50)
    started = [line for line in lines if line.message.endswith("v2 listening")]
    assert len(started) == 2  # the deploy and the restart
    assert {(line.at, line.severity) for line in started} == {(STAMP, "info")}
    launcher = [line for line in lines if line.message.startswith("so1 launcher: checkout")]
    assert launcher
    assert abs(launcher[-1].at - datetime.now(UTC)) < timedelta(minutes=1)
    assert local.platform.logs(SERVICE, "checkout-2", 1) == lines[-1:]
    with pytest.raises(NotFound):
        local.platform.logs(SERVICE, "checkout-9")


def test_refusals_and_outages(local: Local, tmp_path: Path) -> None:
    with pytest.raises(Rejected, match="cannot scale"):
        local.platform.scale(SERVICE, 2)
    with pytest.raises(NotFound):
        local.platform.deployments("nope")
    add_release(local.root, "orphan", "v1", ["true"])  # a directory, no supervisord program
    with pytest.raises(NotFound, match="orphan"):
        local.platform.deployments("orphan")
    for bad in ({"1BAD": "x"}, {"A-B": "x"}, {"OK": "nul\0"}):
        with pytest.raises(Rejected, match=next(iter(bad))):
            local.platform.set_variables(SERVICE, bad, apply=True)
    assert "1BAD" not in local.env()
    with pytest.raises(AuthFailed):
        LocalPlatform(local.root, local.rpc_url, USER, "wrong").deployments(SERVICE)

    local.supervisord.terminate()
    local.supervisord.wait(20)
    with pytest.raises(Unavailable, match="did not answer"):
        local.platform.deployments(SERVICE)
    with pytest.raises(Unavailable):
        local.platform.rollback(SERVICE, "checkout-1")


def test_a_release_that_exits_at_once_fails(local: Local) -> None:
    crash = [sys.executable, "-c", "import sys; print('broken starting', flush=True); sys.exit(3)"]
    make_release(local.root, "broken", crash)
    with pytest.raises(Rejected, match="checkout-3") as failed:
        local.platform.deploy(SERVICE, "broken")
    assert "broken starting" in failed.value.detail  # the last log lines say why
    with pytest.raises(Rejected, match="checkout-4"):
        local.platform.redeploy(SERVICE, "checkout-3")
    for deployment_id in ("checkout-3", "checkout-4"):
        record = local.platform.deployment(SERVICE, deployment_id)
        assert (record.status, record.can_rollback) == ("FAILED", False)
    with pytest.raises(Rejected, match="FAILED"):
        local.platform.rollback(SERVICE, "checkout-3")
    with pytest.raises(httpx.ConnectError):
        local.answer()

    assert local.platform.rollback(SERVICE, "checkout-2") == "checkout-5"
    assert local.answer()["release"] == "v2"


def test_the_deployer_rolls_back_and_restarts_on_this_machine(
    local: Local, container: Container
) -> None:
    """The railway-deployer's whole flow (plan, act, follow, logs, audit) on real processes."""
    deps = DeployerDeps(
        RailwayDeployer(), local.platform, background=lambda job: job(), poll_seconds=0.1
    )
    ask = DeployerRequest(PlatformAction.ROLLBACK, SERVICE, target_version="previous")
    run = deployer_request(container.uow, container.clock, Actor("ana"), deps, ask)
    done = get_run(container.uow, run.id, Actor("t"))
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.output is not None
    assert done.output["plan"]["target"]["version"] == "v1"
    assert local.answer()["release"] == "v1"

    before = local.pid()
    restart = deployer_request(
        container.uow,
        container.clock,
        Actor("ana"),
        deps,
        DeployerRequest(PlatformAction.RESTART, SERVICE),
    )
    assert get_run(container.uow, restart.id, Actor("t")).status is RunStatus.COMPLETED
    assert local.pid() != before and local.answer()["release"] == "v1"
    actions = [r.action for r in access.audit_log(container.uow, Actor("t"), 50, 0)]
    assert actions.count("platform.action.requested") == 2
    assert actions.count("platform.action.done") == 2
