"""The runbook's worked example, step by step (`so1 demo`): a service with a pool of 20
connections; traffic doubles; its error rate crosses 1%; the alert arrives; triage says SEV2
connection exhaustion; the incident is declared; the mitigation sets DATABASE_POOL_SIZE=50
and restarts; the error rate falls; after the (shortened) stability window SO1 resolves."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from so1.domain.records import AgentName
from so1.domain.timeline import EventKind
from so1.entrypoints.demo.stack import SERVICE, Stack
from so1.entrypoints.demo.traffic import Collector, Traffic

BASELINE_CLIENTS, DOUBLED_CLIENTS = 15, 30
ONCALL = {
    "teams": [{"name": "backend", "lead": "eng-lead", "escalation_policy": "backend-default"}],
    "people": [
        {"handle": "oncall-backend", "name": "Ana Oliveira", "team": "backend"},
        {"handle": "eng-lead", "name": "Eli Rossi", "team": "backend", "seniority": "lead"},
    ],
    "schedules": [
        {
            "name": "backend-primary",
            "team": "backend",
            "timezone": "UTC",
            "layers": [
                {
                    "name": "weekly",
                    "start": "2026-01-05T00:00:00",
                    "shift": "1w",
                    "members": ["oncall-backend"],
                }
            ],
        }
    ],
    "escalation_policies": [
        {
            "name": "backend-default",
            "repeats": 1,
            "levels": [{"timeout_minutes": 5, "targets": [{"schedule": "backend-primary"}]}],
        }
    ],
}


class Demo:
    def __init__(self, workdir: Path, stability_seconds: float, console: Console) -> None:
        self.stack, self.console = Stack(workdir), console
        self.stability_seconds = stability_seconds
        self.api: httpx.Client | None = None
        self.traffic: Traffic | None = None
        self.collector: Collector | None = None
        self.incident_id: str | None = None

    def run(self) -> str:
        """Returns the incident's id; raises RuntimeError naming the step that failed."""
        try:
            self._start()
            self._phase_baseline()
            incident = self._phase_incident()
            self._phase_mitigation(incident)
            self._phase_resolution(incident)
            return incident
        finally:
            self._stop()

    def say(self, text: str) -> None:
        self.console.print(text)

    def _start(self) -> None:
        self.say("[bold]1. Starting the sample service[/] (pool of 20) under supervisord")
        self.stack.start_service(pool_size=20)
        self.say(f"   {SERVICE} on {self.stack.app_url}")
        label = f"{self.stability_seconds:.0f} s (demo-shortened; the runbook says 30 min)"
        self.say(f"[bold]2. Starting SO1[/] (SQLite); stability window {label}")
        self.stack.start_so1(stability_minutes=self.stability_seconds / 60)
        self.api = httpx.Client(
            base_url=self.stack.so1_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {self.stack.token}"},
        )
        self._call(
            "PUT",
            f"/v1/services/{SERVICE}",
            {
                "tier": "critical",
                "owner_team": "backend",
                "users": 150,
                "platform": "local",
                "health_url": f"{self.stack.app_url}/health",
            },
        )
        self._call("PUT", "/v1/oncall/config", ONCALL)
        self._call(
            "POST",
            "/v1/deployments",
            {
                "service": SERVICE,
                "version": "v1",
                "deployed_by": "dana",
                "deployed_at": (datetime.now(UTC) - timedelta(hours=4)).isoformat(),
                "config": {"DATABASE_POOL_SIZE": "20"},
            },
        )
        self.say(f"   {self.stack.so1_url} (admin key {self.stack.token[:16]}…)")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.api is not None
        response = self.api.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def _phase_baseline(self) -> None:
        self.traffic = Traffic(f"{self.stack.app_url}/v1/workflows")
        self.traffic.set_clients(BASELINE_CLIENTS)
        self.collector = Collector(
            self.traffic, self.stack.app_url, self.stack.so1_url, self.stack.token, SERVICE
        )
        self.collector.start()
        self.say(f"[bold]3. Normal traffic[/]: {BASELINE_CLIENTS} clients")
        self._watch(6.0, lambda: False)

    def _phase_incident(self) -> str:
        assert self.traffic is not None
        self.say(f"[bold]4. Traffic doubles[/]: {DOUBLED_CLIENTS} clients (bulk execution)")
        self.traffic.set_clients(DOUBLED_CLIENTS)
        found: list[dict[str, Any]] = []

        def declared() -> bool:
            page = self._call("GET", "/v1/incidents", None)
            found[:] = [i for i in page["items"] if i.get("channel")]
            return bool(found)

        self._watch(90.0, declared, "no incident was declared within 90 s")
        incident = found[0]
        self.incident_id = incident["id"]
        report = self._timeline(incident["id"], EventKind.TRIAGE_REPORT)
        top = (report[-1]["data"].get("hypotheses") or [{}])[0] if report else {}
        self.say(f"   [red]{incident['id']}[/] {incident['severity']}: {incident['title']}")
        self.say(
            f"   triage: {top.get('cause', '?')} ({top.get('confidence', 0):.0%}); "
            f"war room {incident['channel']}, commander @{incident['commander']}"
        )
        for message in self._messages(incident["id"], "declared"):
            self.say("   " + message["text"].replace("\n", "\n   "))
        return str(incident["id"])

    def _phase_mitigation(self, incident: str) -> None:
        self.say("[bold]5. Mitigation[/]: railway-deployer sets DATABASE_POOL_SIZE=50 and restarts")
        run = self._call(
            "POST",
            "/v1/orchestrate",
            {
                "agent": AgentName.DEPLOYER,
                "inputs": {
                    "action": "set_variables",
                    "service": SERVICE,
                    "incident_id": incident,
                    "variables": {"DATABASE_POOL_SIZE": "50"},
                },
            },
        )
        for step in run["output"]["plan"].get("steps") or []:
            self.say(f"   • {step}")
        done: dict[str, Any] = {}

        def finished() -> bool:
            done.update(self._call("GET", f"/v1/orchestrate/runs/{run['run_id']}"))
            return done["status"] in ("completed", "failed")

        self._watch(60.0, finished, "the mitigation did not finish within 60 s")
        if done["status"] != "completed":
            raise RuntimeError(f"the mitigation failed: {done.get('error')}")
        deployment = done["output"]["result"]["deployment"]
        self.say(f"   deployment {deployment['id']}: {deployment['status']}")

    def _phase_resolution(self, incident: str) -> None:
        self.say(
            "[bold]6. Verification[/]: error rate < 1%, p99 < 500 ms, health check passing,"
            " no new alerts; then stable"
        )
        limit = 120.0 + self.stability_seconds

        def resolved() -> bool:
            return bool(self._call("GET", f"/v1/incidents/{incident}")["status"] == "resolved")

        self._watch(limit, resolved, f"the incident was not resolved within {limit:.0f} s")
        for event in self._timeline(incident, EventKind.HEALTH_CHANGED):
            self.say(f"   {event['summary']}")
        for event in self._timeline(incident, EventKind.VERIFICATION_RESULT):
            self.say(f"   {event['summary']}")
        self.say("[bold green]7. Resolved[/]")
        self._wait_for(lambda: bool(self._messages(incident, "resolved")), 30.0)
        for message in self._messages(incident, "resolved"):
            self.say("   " + message["text"].replace("\n", "\n   "))

    def _timeline(self, incident: str, kind: EventKind) -> list[dict[str, Any]]:
        events = self._call("GET", f"/v1/incidents/{incident}/timeline")["events"]
        return [e for e in events if e["kind"] == kind]

    def _messages(self, incident: str, kind: str) -> list[dict[str, Any]]:
        said = self._call("GET", f"/v1/incidents/{incident}/messages")
        return [m for m in said if m["kind"] == kind and m["to"] == "war_room"]

    def _watch(self, seconds: float, done: Callable[[], bool], failure: str = "") -> None:
        """Print the live numbers every 2 s until ``done`` or ``seconds`` pass."""
        deadline, shown = time.monotonic() + seconds, 0.0
        while time.monotonic() < deadline:
            if done():
                return
            if time.monotonic() - shown >= 2.0 and self.collector is not None:
                shown = time.monotonic()
                r = self.collector.reading
                pool = "-" if r.pool is None else f"{r.pool:.0f}%"
                self.say(
                    f"   [dim]error rate {r.error_rate:5.1f}%  p99 {r.p99_ms:6.0f} ms  "
                    f"pool {pool:>4}  ({r.requests} requests / 3 s)[/]"
                )
            time.sleep(0.5)
        if failure:
            raise RuntimeError(failure)

    def _wait_for(self, done: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done():
            time.sleep(0.5)

    def _stop(self) -> None:
        if self.collector is not None:
            self.collector.stop()
        if self.traffic is not None:
            self.traffic.stop()
        if self.api is not None:
            self.api.close()
        self.stack.stop()
