"""Railway's GraphQL API v2, in process (httpx.MockTransport) or on a local server, for the
operations SO1 uses (shared/reference/integrations.md §7): HTTP 200 with ``errors[]`` for
failures including "Not Authorized", 429 with Retry-After, deployments with canRollback /
canRedeploy, and variableUpsert that redeploys unless skipDeploys is true."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from so1.adapters.platform.railway_client import API as URL

TOKEN = "railway-test-token"
PROJECT, ENVIRONMENT = "proj-1", "env-prod"
T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


@dataclass
class RailwayState:
    deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service id →
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)  # deployment id → lines
    counter: int = 0

    def add(
        self,
        service_id: str,
        status: str = "SUCCESS",
        commit: str | None = None,
        can_rollback: bool = True,
    ) -> dict[str, Any]:
        self.counter += 1
        node = {
            "id": f"dep-{self.counter}",
            "serviceId": service_id,
            "status": status,
            "createdAt": (T0 + timedelta(minutes=self.counter)).isoformat().replace("+00:00", "Z"),
            "canRollback": can_rollback,
            "canRedeploy": True,
            "meta": {"commitHash": commit or f"c{self.counter:04d}"},
        }
        for older in self.deployments.get(service_id, []):
            if older["status"] == "SUCCESS":
                older["status"] = "REMOVED"  # Railway keeps one active deployment
        self.deployments.setdefault(service_id, []).append(node)
        return node

    def find(self, deployment_id: str) -> dict[str, Any] | None:
        every = (d for nodes in self.deployments.values() for d in nodes)
        return next((d for d in every if d["id"] == deployment_id), None)


def _error(message: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message}]}


class _Operations:
    def __init__(self, state: RailwayState) -> None:
        self.state = state

    def deployments(self, v: dict[str, Any]) -> Any:
        scope = v["input"]
        assert {scope["projectId"], scope["environmentId"]} == {PROJECT, ENVIRONMENT}
        every = self.state.deployments.get(scope["serviceId"], [])
        nodes = sorted(every, key=lambda d: d["createdAt"], reverse=True)[: v.get("first") or 10]
        return {"edges": [{"node": n} for n in nodes]}

    def deployment(self, v: dict[str, Any]) -> Any:
        return self.state.find(v["id"])

    def deploymentRollback(self, v: dict[str, Any]) -> Any:  # noqa: N802 - Railway's name
        target = self.state.find(v["id"])
        if target is None or not target["canRollback"]:
            raise ValueError("Deployment cannot be rolled back")
        self.state.add(target["serviceId"], commit=target["meta"]["commitHash"])
        return True

    def deploymentRedeploy(self, v: dict[str, Any]) -> Any:  # noqa: N802
        target = self.state.find(v["id"])
        if target is None:
            raise ValueError("Deployment not found")
        node = self.state.add(target["serviceId"], commit=target["meta"]["commitHash"])
        return {"id": node["id"], "status": node["status"]}

    def deploymentRestart(self, v: dict[str, Any]) -> Any:  # noqa: N802
        return self.state.find(v["id"]) is not None

    def variableUpsert(self, v: dict[str, Any]) -> Any:  # noqa: N802
        given = v["input"]
        assert given["projectId"] == PROJECT and given["environmentId"] == ENVIRONMENT
        self.state.variables.setdefault(given["serviceId"], {})[given["name"]] = given["value"]
        if given.get("skipDeploys") is not True:
            self.state.add(given["serviceId"])  # Railway redeploys unless told not to
        return True

    def variables(self, v: dict[str, Any]) -> Any:
        assert v["projectId"] == PROJECT and v["environmentId"] == ENVIRONMENT
        return dict(self.state.variables.get(v["serviceId"], {}))

    def serviceInstanceRedeploy(self, v: dict[str, Any]) -> Any:  # noqa: N802
        assert v["environmentId"] == ENVIRONMENT
        self.state.add(v["serviceId"])
        return True

    def serviceInstanceUpdate(self, v: dict[str, Any]) -> Any:  # noqa: N802
        self.state.replicas[v["serviceId"]] = v["input"]["numReplicas"]
        return True

    def deploymentLogs(self, v: dict[str, Any]) -> Any:  # noqa: N802
        if self.state.find(v["deploymentId"]) is None:
            raise ValueError("Deployment not found")
        lines = [
            ("2024-01-15T10:05:02Z", "Listening on :8080"),
            ("2024-01-15T10:05:01Z", "Starting with DATABASE_POOL_SIZE=50"),
        ]
        given = self.state.logs.get(v["deploymentId"], [])
        lines += [(f"2024-01-15T10:06:{i % 60:02d}Z", m) for i, m in enumerate(given)]
        return [{"timestamp": t, "message": m, "severity": "info"} for t, m in lines]


ROOT_FIELD = re.compile(r"\{\s*(\w+)\s*\(")


def answer(
    state: RailwayState, authorization: str | None, body: dict[str, Any]
) -> tuple[int, Any, dict[str, str]]:
    """Railway's answer to one GraphQL request: (status, JSON body, headers)."""
    operation = ROOT_FIELD.search(body["query"])
    name = operation.group(1) if operation else "?"
    state.calls.append((name, body.get("variables") or {}))
    if state.fail_next:
        status, extra = state.fail_next.pop(0)
        return status, {"errors": [{"message": "slow down"}]}, extra
    if authorization != f"Bearer {TOKEN}":
        return 200, _error("Not Authorized"), {}
    handler = getattr(_Operations(state), name, None)
    if handler is None:
        return 200, _error(f'Cannot query field "{name}" on type "Query".'), {}
    try:
        return 200, {"data": {name: handler(body.get("variables") or {})}}, {}
    except ValueError as exc:
        return 200, _error(str(exc)), {}


def railway_http(state: RailwayState) -> httpx.Client:
    """A client whose requests Railway (``state``) answers in process (httpx.MockTransport);
    a lock keeps the state consistent when platform actions run in background threads."""
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == URL, request.url
        with lock:
            auth, body = request.headers.get("Authorization"), json.loads(request.content)
            status, payload, headers = answer(state, auth, body)
        return httpx.Response(status, json=payload, headers=headers)

    return httpx.Client(transport=httpx.MockTransport(handle))


class _Handler(BaseHTTPRequestHandler):
    state: RailwayState

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(*answer(self.state, self.headers.get("Authorization"), body))

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def railway_server() -> Iterator[tuple[str, RailwayState]]:
    """Railway on loopback, for a test that needs real sockets (another process, retries)."""
    state = RailwayState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/graphql/v2", state
    finally:
        server.shutdown()
        thread.join(5)
