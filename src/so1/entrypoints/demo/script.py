"""The runbook's worked example, step by step (`so1 demo`): a service with a pool of 20
connections; traffic doubles; its error rate crosses 1%; the alert arrives; triage says SEV2
connection exhaustion; the incident is declared and the on-call responder acknowledges it; the
mitigation sets DATABASE_POOL_SIZE=50 and restarts (recorded as a deployment); the error rate
falls; after the (shortened) stability window SO1 resolves. Along the way it checks itself: the
restart must not be worse than the incident, and the gate's p99 must agree with the console's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from so1.domain.records import AgentName
from so1.domain.timeline import EventKind
from so1.entrypoints.demo.checks import Agreement, RestartImpact, p99_agreement, restart_impact
from so1.entrypoints.demo.server import Server
from so1.entrypoints.demo.stack import SERVICE, Stack
from so1.entrypoints.demo.traffic import Collector, Traffic

BASELINE_CLIENTS, DOUBLED_CLIENTS = 16, 32
BASELINE_SECONDS = 4.0
RESTART_SETTLE = timedelta(seconds=6)  # after the rollout: how long the restart may show
RESPONDER, RESPONDER_NAME = "oncall-backend", "Ana Oliveira"  # on call: acknowledges, acts
PHASES = 7
ONCALL = {
    "teams": [{"name": "backend", "lead": "eng-lead", "escalation_policy": "backend-default"}],
    "people": [
        {"handle": RESPONDER, "name": RESPONDER_NAME, "team": "backend"},
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


@dataclass
class Outcome:
    """What the demo leaves: the incident, where its record is, a key that reads it, and the
    checks it held itself to."""

    incident: str
    so1_url: str
    database_url: str
    token: str
    agreement: Agreement
    restart: RestartImpact


class Demo:
    def __init__(
        self,
        workdir: Path,
        stability_seconds: float,
        console: Console,
        so1_port: int | None = None,
        server: Server | None = None,
    ) -> None:
        """``server``: write into that SO1 (its stability window counts) instead of starting
        one on ``so1_port`` (default: a free port)."""
        self.server = server
        self.stack = _stack(workdir, so1_port, server)
        self.stability_seconds = server.stability_seconds if server else stability_seconds
        self.responder_token = ""
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.step = self.progress.add_task("starting", total=PHASES)
        self.api: httpx.Client | None = None
        self.traffic: Traffic | None = None
        self.collector: Collector | None = None
        self.marks: dict[str, datetime] = {}
        self.label = "starting"

    def run(self) -> Outcome:
        """Raises RuntimeError naming the step that failed."""
        with self.progress:
            try:
                self._start()
                self._phase_baseline()
                incident = self._phase_incident()
                self._phase_mitigation(incident)
                restart = self._restart_impact()
                agreement = self._phase_resolution(incident)
            finally:
                self._stop()
        stack = self.stack
        return Outcome(incident, stack.so1_url, stack.database_url, stack.token, agreement, restart)

    def say(self, text: str) -> None:
        self.progress.console.print(text, highlight=False)

    def phase(self, text: str) -> None:
        self.say(f"[bold]{text}")
        self.label = text.split(":", maxsplit=1)[0]
        self.progress.update(self.step, description=self.label, advance=1)

    def _start(self) -> None:
        self.phase("1. Starting SO1 and the sample service (pool of 20) under supervisord")
        if self.server is None:
            self.stack.spawn_so1(stability_minutes=self.stability_seconds / 60)
        self.stack.start_service(pool_size=20)
        self.say(f"   {SERVICE} on {self.stack.app_url}")

    def _phase_baseline(self) -> None:
        """Normal traffic from the moment the service is up; its readings wait (with their
        times) for SO1 to be up, so the gates have the level before the incident."""
        started = time.monotonic()
        self.traffic = Traffic(f"{self.stack.app_url}/v1/workflows")
        self.traffic.set_clients(BASELINE_CLIENTS)
        self.collector = Collector(self.traffic, self.stack.app_url, SERVICE)
        self.collector.start()
        self.phase(f"2. Normal traffic: {BASELINE_CLIENTS} clients")
        if self.server is None:
            self.stack.await_so1()
        label = f"{self.stability_seconds:.0f} s (demo-shortened; the runbook says 30 min)"
        where = "the server you named" if self.server else "SQLite"
        self.say(f"   SO1 on {self.stack.so1_url} ({where}); stability window {label}")
        self.api = httpx.Client(
            base_url=self.stack.so1_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {self.stack.token}"},
        )
        self._set_up_the_record()
        self.collector.connect(self.stack.so1_url, self.stack.token)
        self._watch(BASELINE_SECONDS - (time.monotonic() - started), lambda: False)

    def _set_up_the_record(self) -> None:
        """The catalog entry, on-call, the running release as a deployment, the responder's key."""
        self._call("PUT", f"/v1/services/{SERVICE}", self._catalog_entry())
        self._call("PUT", "/v1/oncall/config", ONCALL)
        four_hours_ago = (datetime.now(UTC) - timedelta(hours=4)).isoformat()
        first = {
            "service": SERVICE,
            "version": "v1",
            "deployed_by": "dana",
            "deployed_at": four_hours_ago,
            "config": {"DATABASE_POOL_SIZE": "20"},
        }
        known = self._call("GET", "/v1/deployments/recent", params={"service": SERVICE})
        if not known["deployments"]:  # a later demo on the same server has its history
            self._call("POST", "/v1/deployments", first)
        scopes = ["read", "write", "deploy"]  # the on-call responder acts as well as watches
        responder = {"name": RESPONDER, "scopes": scopes, "person": RESPONDER}
        self.responder_token = str(self._call("POST", "/v1/keys", responder)["token"])

    def _catalog_entry(self) -> dict[str, Any]:
        return {
            "tier": "critical",
            "owner_team": "backend",
            "users": 150,
            "platform": "local",
            "health_url": f"{self.stack.app_url}/health",
        }

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        assert self.api is not None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        response = self.api.request(method, path, json=body, headers=headers, params=params)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def _phase_incident(self) -> str:
        assert self.traffic is not None
        self.phase(f"3. Traffic doubles: {DOUBLED_CLIENTS} clients (bulk execution)")
        self.marks["doubled"] = datetime.now(UTC)
        self.traffic.set_clients(DOUBLED_CLIENTS)
        found: list[dict[str, Any]] = []

        def declared() -> bool:
            page = self._call("GET", "/v1/incidents", params={"service": SERVICE})
            found[:] = [i for i in page["items"] if self._ours(i)]
            return bool(found)

        self._watch(60.0, declared, "no incident was declared within 60 s")
        incident = found[0]
        report = self._timeline(incident["id"], EventKind.TRIAGE_REPORT)
        top = (report[-1]["data"].get("hypotheses") or [{}])[0] if report else {}
        self.say(f"   [red]{incident['id']}[/] {incident['severity']}: {incident['title']}")
        self.say(
            f"   triage: {top.get('cause', '?')} ({top.get('confidence', 0):.0%}); "
            f"war room {incident['channel']}, commander @{incident['commander']}"
        )
        for message in self._messages(incident["id"], "declared"):
            self.say("   " + message["text"].replace("\n", "\n   "))
        path = f"/v1/incidents/{incident['id']}/acknowledge"
        acked = self._call("POST", path, {}, token=self.responder_token)
        when = acked["acknowledged_at"]
        self.say(f"   acknowledged by @{RESPONDER} ({RESPONDER_NAME}) at {when}, with her own key")
        return str(incident["id"])

    def _ours(self, incident: dict[str, Any]) -> bool:
        """Declared by this run (a server named with --api-url may hold earlier ones)."""
        detected = incident.get("detected_at")
        return bool(
            incident.get("channel")
            and incident.get("service") == SERVICE
            and detected
            and datetime.fromisoformat(detected) >= self.marks["doubled"]
        )

    def _phase_mitigation(self, incident: str) -> None:
        self.phase("4. Mitigation: railway-deployer sets DATABASE_POOL_SIZE=50 and restarts")
        self.marks["acting"] = datetime.now(UTC)
        inputs = {
            "action": "set_variables",
            "service": SERVICE,
            "incident_id": incident,
            "variables": {"DATABASE_POOL_SIZE": "50"},
        }
        asked = {"agent": AgentName.DEPLOYER, "inputs": inputs}
        run = self._call("POST", "/v1/orchestrate", asked, token=self.responder_token)
        for step in run["output"]["plan"].get("steps") or []:
            self.say(f"   • {step}")
        done: dict[str, Any] = {}

        def finished() -> bool:
            done.update(self._call("GET", f"/v1/orchestrate/runs/{run['run_id']}"))
            return done["status"] in ("completed", "failed")

        self._watch(60.0, finished, "the mitigation did not finish within 60 s")
        self.marks["rolled_out"] = datetime.now(UTC)
        if done["status"] != "completed":
            raise RuntimeError(f"the mitigation failed: {done.get('error')}")
        self._show_the_recorded_deployment(done["output"]["result"]["deployment"])

    def _show_the_recorded_deployment(self, rollout: dict[str, Any]) -> None:
        """The rollout as SO1 lists it among recent deployments; RuntimeError when it is not."""
        listed = self._call("GET", "/v1/deployments/recent", params={"service": SERVICE})
        recorded = [
            d for d in listed["deployments"] if d.get("platform_deployment_id") == rollout["id"]
        ]
        if not recorded:
            raise RuntimeError(f"deployment {rollout['id']} is not in /v1/deployments/recent")
        config = recorded[0]["config"].get("DATABASE_POOL_SIZE")
        self.say(
            f"   deployment {rollout['id']}: {rollout['status']}; in /v1/deployments/recent as"
            f" {recorded[0]['version']} by {recorded[0]['deployed_by']},"
            f" DATABASE_POOL_SIZE={config}"
        )

    def _restart_impact(self) -> RestartImpact:
        """Watch the restart settle, then compare its worst error rate with the incident's."""
        assert self.collector is not None
        settled = self.marks["rolled_out"] + RESTART_SETTLE
        self._watch(max(0.0, (settled - datetime.now(UTC)).total_seconds()), lambda: False)
        marks = self.marks
        incident = self.collector.between(marks["doubled"], marks["acting"])
        restart = self.collector.between(marks["rolled_out"], settled)
        impact = restart_impact(incident, restart)
        self.say(("   [red]" if impact.worse else "   ") + impact.line())
        return impact

    def _phase_resolution(self, incident: str) -> Agreement:
        assert self.collector is not None
        self.phase(
            "5. Verification: error rate < 1%, p99 < 500 ms, health check passing,"
            " no new alerts; then stable"
        )
        limit = 60.0 + self.stability_seconds

        def resolved() -> bool:
            return bool(self._call("GET", f"/v1/incidents/{incident}")["status"] == "resolved")

        self._watch(limit, resolved, f"the incident was not resolved within {limit:.0f} s")
        for event in self._timeline(incident, EventKind.HEALTH_CHANGED):
            self.say(f"   {event['summary']}")
        verdicts = self._timeline(incident, EventKind.VERIFICATION_RESULT)
        for event in verdicts:
            self.say(f"   {event['summary']}")
        stable = verdicts[-1]
        judged_at = datetime.fromisoformat(stable["occurred_at"])
        agreement = p99_agreement(stable["data"], judged_at, self.collector.history)
        self.say(("   " if agreement.agrees else "   [red]") + agreement.line())
        self.phase("6. Resolved")
        self._wait_for(lambda: bool(self._messages(incident, "resolved")), 30.0)
        for message in self._messages(incident, "resolved"):
            self.say("   " + message["text"].replace("\n", "\n   "))
        self.progress.update(self.step, description="7. Done", advance=1)
        return agreement

    def _timeline(self, incident: str, kind: EventKind) -> list[dict[str, Any]]:
        events = self._call("GET", f"/v1/incidents/{incident}/timeline")["events"]
        return [e for e in events if e["kind"] == kind]

    def _messages(self, incident: str, kind: str) -> list[dict[str, Any]]:
        said = self._call("GET", f"/v1/incidents/{incident}/messages")
        return [m for m in said if m["kind"] == kind and m["to"] == "war_room"]

    def _watch(self, seconds: float, done: Callable[[], bool], failure: str = "") -> None:
        """Show the live numbers (and print them every 2 s) until ``done`` or ``seconds`` pass."""
        deadline, shown = time.monotonic() + seconds, 0.0
        while time.monotonic() < deadline:
            if done():
                return
            if self.collector is not None:
                r = self.collector.reading
                pool = "-" if r.pool is None else f"{r.pool:.0f}%"
                line = (
                    f"error rate {r.error_rate:5.1f}%  p99 {r.p99_ms:6.0f} ms  "
                    f"pool {pool:>4}  ({r.requests} requests / 3 s)"
                )
                self.progress.update(self.step, description=f"{self.label}   {line}")
                if time.monotonic() - shown >= 2.0:
                    shown = time.monotonic()
                    self.say(f"   [dim]{r.at:%H:%M:%S} {line}[/]")
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


def _stack(workdir: Path, so1_port: int | None, server: Server | None) -> Stack:
    if server is not None:  # supervisord where the server expects it, releases in its root
        return Stack(
            workdir,
            supervisor_port=server.supervisor_port,
            token=server.key,
            external_url=server.url,
            root=server.platform_root,
        )
    return Stack(workdir) if so1_port is None else Stack(workdir, so1_port=so1_port)
