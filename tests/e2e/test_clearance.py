"""Clearance, table-driven: every route of the app (walked from ``app.routes``, so a new route
fails here until it has a row), every page and the live streams, run against one security
incident with each kind of key. A private marker is put in the incident's title, summary,
war room, timeline, alert and postmortem; it must appear in no answer to a key without the
`security` scope, and nothing such a key sends may change the incident."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.postmortem import Postmortem, PostmortemStatus
from so1.domain.records import AgentRun, RunStatus
from so1.entrypoints.api.app import create_app
from tests.conftest import make_key

MARKER = "ZEBRA7731"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
UNCLEARED = {
    "read": (Scope.READ,),
    "write": (Scope.WRITE,),
    "deploy": (Scope.DEPLOY,),
    "admin without security": (Scope.ADMIN,),
}
SERVICE = "auth-service"


@dataclass
class World:
    incident: str
    alert: str
    runs: list[str]
    item: int = 1
    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """How to call one route. ``about`` says whether the call concerns the security incident
    (then a key without clearance must be refused), or is global (a list, the status page)."""

    path: str
    about: bool = False
    json: Any = None
    form: dict[str, str] | None = None
    params: dict[str, str] | None = None
    stream: bool = False


def On(path: str, **kw: Any) -> Case:  # noqa: N802 - reads as a table marker
    return Case(path, about=True, **kw)


def Gl(path: str, **kw: Any) -> Case:  # noqa: N802
    return Case(path, about=False, **kw)


def cases(w: World) -> dict[tuple[str, str], Case]:
    inc, run = w.incident, w.runs[0]
    marked = {"text": f"{MARKER} from outside"}
    return {
        ("GET", "/openapi.json"): Gl("/openapi.json"),
        ("GET", "/docs"): Gl("/docs"),
        ("GET", "/docs/oauth2-redirect"): Gl("/docs/oauth2-redirect"),
        ("GET", "/redoc"): Gl("/redoc"),
        # the API
        ("GET", "/v1/health"): Gl("/v1/health"),
        ("GET", "/v1/incidents"): Gl("/v1/incidents", params={"service": SERVICE}),
        ("POST", "/v1/incidents"): Gl("/v1/incidents", json={"title": "other", "severity": "SEV4"}),
        ("GET", "/v1/incidents/{incident_id}"): On(f"/v1/incidents/{inc}"),
        ("PATCH", "/v1/incidents/{incident_id}"): On(f"/v1/incidents/{inc}", json={"summary": "x"}),
        ("GET", "/v1/incidents/{incident_id}/timeline"): On(f"/v1/incidents/{inc}/timeline"),
        ("GET", "/v1/incidents/{incident_id}/messages"): On(f"/v1/incidents/{inc}/messages"),
        ("POST", "/v1/incidents/{incident_id}/messages"): On(
            f"/v1/incidents/{inc}/messages", json=marked
        ),
        ("GET", "/v1/incidents/{incident_id}/runbook"): On(f"/v1/incidents/{inc}/runbook"),
        ("GET", "/v1/incidents/{incident_id}/status-page"): On(f"/v1/incidents/{inc}/status-page"),
        ("PATCH", "/v1/incidents/{incident_id}/status-page/drafts/{draft_id}"): On(
            f"/v1/incidents/{inc}/status-page/drafts/1", json=marked
        ),
        ("POST", "/v1/incidents/{incident_id}/status-page/publish"): On(
            f"/v1/incidents/{inc}/status-page/publish", json=marked
        ),
        ("POST", "/v1/incidents/{incident_id}/acknowledge"): On(f"/v1/incidents/{inc}/acknowledge"),
        ("GET", "/v1/incidents/{incident_id}/participants"): On(
            f"/v1/incidents/{inc}/participants"
        ),
        ("POST", "/v1/incidents/{incident_id}/participants"): On(
            f"/v1/incidents/{inc}/participants", json={"handle": "eve", "role": "scribe"}
        ),
        ("POST", "/v1/incidents/{incident_id}/participants/page"): On(
            f"/v1/incidents/{inc}/participants/page", json={"handle": "eve", "reason": "r"}
        ),
        ("POST", "/incidents/{incident_id}/roles"): On(
            f"/incidents/{inc}/roles", form={"handle": "eve", "role": "scribe"}
        ),
        ("POST", "/incidents/{incident_id}/page"): On(
            f"/incidents/{inc}/page", form={"who": "person:eve", "reason": "r"}
        ),
        ("POST", "/v1/incidents/{incident_id}/participants/renounce"): On(
            f"/v1/incidents/{inc}/participants/renounce", json={"handle": "eve", "role": "scribe"}
        ),
        ("GET", "/v1/incidents/{incident_id}/context"): On(f"/v1/incidents/{inc}/context"),
        ("POST", "/v1/incidents/{incident_id}/context/post"): On(
            f"/v1/incidents/{inc}/context/post"
        ),
        ("POST", "/v1/incidents/{incident_id}/hypotheses"): On(
            f"/v1/incidents/{inc}/hypotheses", json={"hypothesis": "x", "confidence": 0.5}
        ),
        ("GET", "/v1/incidents/{incident_id}/verification"): On(
            f"/v1/incidents/{inc}/verification"
        ),
        ("GET", "/v1/incidents/{incident_id}/checklists/{name}"): On(
            f"/v1/incidents/{inc}/checklists/security"
        ),
        ("POST", "/v1/incidents/{incident_id}/checklists/{name}/{number}"): On(
            f"/v1/incidents/{inc}/checklists/security/1"
        ),
        ("POST", "/v1/incidents/{incident_id}/playbooks/outage"): On(
            f"/v1/incidents/{inc}/playbooks/outage"
        ),
        ("GET", "/v1/incidents/{incident_id}/playbooks/database"): On(
            f"/v1/incidents/{inc}/playbooks/database"
        ),
        ("POST", "/v1/incidents/{incident_id}/playbooks/database"): On(
            f"/v1/incidents/{inc}/playbooks/database"
        ),
        ("GET", "/v1/incidents/{incident_id}/database/sessions"): On(
            f"/v1/incidents/{inc}/database/sessions"
        ),
        ("POST", "/v1/incidents/{incident_id}/database/sessions/{pid}/{signal}"): On(
            f"/v1/incidents/{inc}/database/sessions/4242/cancel"
        ),
        ("GET", "/v1/incidents/{incident_id}/database/replication"): On(
            f"/v1/incidents/{inc}/database/replication"
        ),
        ("POST", "/v1/incidents/{incident_id}/evidence"): On(f"/v1/incidents/{inc}/evidence"),
        ("GET", "/v1/incidents/{incident_id}/postmortem"): On(
            f"/v1/incidents/{inc}/postmortem", params={"format": "markdown"}
        ),
        ("GET", "/v1/incidents/{incident_id}/postmortem/meeting.ics"): On(
            f"/v1/incidents/{inc}/postmortem/meeting.ics"
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/edits"): On(
            f"/v1/incidents/{inc}/postmortem/edits", json={"markdown": "# x"}
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/comments"): On(
            f"/v1/incidents/{inc}/postmortem/comments", json={"text": "hi"}
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/submit"): On(
            f"/v1/incidents/{inc}/postmortem/submit"
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/checks/{check}"): On(
            f"/v1/incidents/{inc}/postmortem/checks/timeline_accurate"
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/publish"): On(
            f"/v1/incidents/{inc}/postmortem/publish"
        ),
        ("POST", "/v1/incidents/{incident_id}/postmortem/learnings"): On(
            f"/v1/incidents/{inc}/postmortem/learnings", json={"summary": "s", "reference": "r"}
        ),
        ("GET", "/v1/alerts"): Gl("/v1/alerts"),
        ("POST", "/v1/alerts"): Gl(
            "/v1/alerts",
            json={"event_action": "trigger", "source": "t", "service": "billing", "summary": "s"},
        ),
        ("GET", "/v1/alerts/{alert_id}"): On(f"/v1/alerts/{w.alert}"),
        ("POST", "/v1/alerts/{alert_id}/acknowledge"): On(f"/v1/alerts/{w.alert}/acknowledge"),
        ("POST", "/v1/orchestrate"): On(
            "/v1/orchestrate",
            json={"agent": "postmortem-analyst", "inputs": {"incident_id": inc}},
        ),
        ("GET", "/v1/orchestrate/runs/{run_id}"): On(f"/v1/orchestrate/runs/{run}"),
        ("POST", "/v1/orchestrate/runs/{run_id}/approve"): On(
            f"/v1/orchestrate/runs/{w.ids['awaiting']}/approve"
        ),
        ("POST", "/v1/orchestrate/runs/{run_id}/decline"): On(
            f"/v1/orchestrate/runs/{w.ids['awaiting']}/decline"
        ),
        ("GET", "/v1/audit"): Gl("/v1/audit", params={"limit": "500"}),
        ("GET", "/v1/audit/export"): Gl("/v1/audit/export", params={"start": "2024-01-01T00:00Z"}),
        ("POST", "/v1/security/rotate"): Gl("/v1/security/rotate"),
        # administration: global, and the ids name nothing (revoking the caller's key would
        # sign the rest of the walk out)
        ("GET", "/v1/system"): Gl("/v1/system"),
        ("GET", "/v1/system/runtime"): Gl("/v1/system/runtime"),
        ("GET", "/v1/keys"): Gl("/v1/keys"),
        ("GET", "/v1/keys/me"): Gl("/v1/keys/me"),
        ("POST", "/v1/keys"): Gl("/v1/keys", json={"name": "walked", "scopes": ["read"]}),
        ("POST", "/v1/keys/{key_id}/revoke"): Gl("/v1/keys/nokey/revoke"),
        ("POST", "/v1/keys/{key_id}/rotate"): Gl("/v1/keys/nokey/rotate"),
        ("POST", "/v1/login-links"): Gl("/v1/login-links", json={"key_id": "nokey"}),
        ("GET", "/v1/integrations"): Gl("/v1/integrations"),
        ("POST", "/v1/integrations"): Gl(
            "/v1/integrations", json={"name": "walked", "source": "datadog"}
        ),
        ("POST", "/v1/integrations/{integration_id}/rotate"): Gl("/v1/integrations/999/rotate"),
        ("POST", "/v1/integrations/{integration_id}/disable"): Gl("/v1/integrations/999/disable"),
        ("GET", "/v1/action-items"): Gl("/v1/action-items"),
        ("PATCH", "/v1/action-items/{item_id}"): On(
            f"/v1/action-items/{w.item}", json={"status": "done"}
        ),
        ("GET", "/v1/analytics"): Gl("/v1/analytics", params={"days": "3650"}),
        ("GET", "/v1/metrics"): Gl(
            "/v1/metrics", params={"service": SERVICE, "metric": "error_rate"}
        ),
        ("POST", "/v1/metrics"): Gl("/v1/metrics", json={"samples": []}),
        ("GET", "/v1/services"): Gl("/v1/services"),
        ("GET", "/v1/services/{name}"): Gl(f"/v1/services/{SERVICE}"),
        ("PUT", "/v1/services/{name}"): Gl("/v1/services/other", json={"tier": "low"}),
        ("GET", "/v1/deployments/recent"): Gl("/v1/deployments/recent"),
        ("POST", "/v1/deployments"): Gl("/v1/deployments", json={"service": "o", "version": "1"}),
        ("GET", "/v1/feature-flags"): Gl("/v1/feature-flags"),
        ("GET", "/v1/feature-flags/{key}"): Gl("/v1/feature-flags/kill-switch"),
        ("GET", "/v1/feature-flags/{key}/history"): Gl("/v1/feature-flags/kill-switch/history"),
        ("PUT", "/v1/feature-flags/{key}"): On(
            "/v1/feature-flags/kill-switch",
            json={"enabled": False, "reason": "r", "incident_id": inc},
        ),
        ("PATCH", "/v1/feature-flags/{key}"): On(
            "/v1/feature-flags/kill-switch",
            json={"enabled": True, "reason": "r", "incident_id": inc},
        ),
        ("GET", "/ofrep/v1/configuration"): Gl("/ofrep/v1/configuration"),
        ("POST", "/ofrep/v1/evaluate/flags"): Gl("/ofrep/v1/evaluate/flags", json={}),
        ("POST", "/ofrep/v1/evaluate/flags/{key}"): Gl(
            "/ofrep/v1/evaluate/flags/kill-switch", json={}
        ),
        ("GET", "/v1/correlation-rules"): Gl("/v1/correlation-rules"),
        ("PUT", "/v1/correlation-rules/{name}"): Gl("/v1/correlation-rules/default", json={}),
        ("POST", "/v1/correlation-rules/{name}/dry-run"): Gl(
            "/v1/correlation-rules/default/dry-run", json={}
        ),
        ("GET", "/v1/silences"): Gl("/v1/silences"),
        ("POST", "/v1/silences"): Gl(
            "/v1/silences", json={"matchers": {"service": "x"}, "duration_minutes": 5}
        ),
        ("DELETE", "/v1/silences/{silence_id}"): Gl("/v1/silences/999"),
        ("PUT", "/v1/oncall/config"): Gl("/v1/oncall/config", json={}),
        ("GET", "/v1/oncall"): Gl("/v1/oncall"),
        ("GET", "/v1/people"): Gl("/v1/people"),
        ("GET", "/v1/teams"): Gl("/v1/teams"),
        ("GET", "/v1/escalation-policies"): Gl("/v1/escalation-policies"),
        ("GET", "/v1/schedules/{name}"): Gl("/v1/schedules/x"),
        ("GET", "/v1/schedules/{name}/shifts"): Gl("/v1/schedules/x/shifts"),
        ("GET", "/v1/schedules/{name}/calendar.ics"): Gl("/v1/schedules/x/calendar.ics"),
        ("POST", "/v1/schedules/{name}/overrides"): Gl("/v1/schedules/x/overrides", json={}),
        ("DELETE", "/v1/schedules/{name}/overrides/{override_id}"): Gl(
            "/v1/schedules/x/overrides/9"
        ),
        ("POST", "/v1/people/{handle}/time-off"): Gl("/v1/people/x/time-off", json={}),
        ("POST", "/v1/people"): Gl("/v1/people", json={"handle": "walked", "role": "viewer"}),
        ("POST", "/v1/people/{handle}/disable"): Gl("/v1/people/nobody/disable"),
        ("POST", "/v1/people/{handle}/enable"): Gl("/v1/people/nobody/enable"),
        ("PUT", "/v1/people/{handle}/role"): Gl("/v1/people/nobody/role", json={"role": "viewer"}),
        ("PUT", "/v1/people/{handle}/slack"): Gl("/v1/people/nobody/slack", json={}),
        ("DELETE", "/v1/people/{handle}/slack"): Gl("/v1/people/nobody/slack"),
        ("DELETE", "/v1/time-off/{time_off_id}"): Gl("/v1/time-off/9"),
        # intake with its own secrets: refused without them, whatever the key
        ("POST", "/v1/webhooks/{source}"): Gl("/v1/webhooks/datadog", json={}),
        ("POST", "/v2/enqueue"): Gl("/v2/enqueue", json={}),
        ("POST", "/v2/change/enqueue"): Gl("/v2/change/enqueue", json={}),
        ("POST", "/v1/slack/commands"): Gl("/v1/slack/commands", form={"text": f"status {inc}"}),
        ("POST", "/v1/slack/events"): Gl("/v1/slack/events", json={}),
        # the public status page
        ("GET", "/status"): Gl("/status"),
        ("GET", "/status.json"): Gl("/status.json"),
        # the pages (signed in with the same key)
        ("GET", "/login"): Gl("/login"),
        ("POST", "/login"): Gl("/login", form={"api_key": "so1_nope"}),
        ("GET", "/login/{token}"): Gl("/login/not-a-token"),
        ("GET", "/login/oidc"): Gl("/login/oidc"),
        ("GET", "/login/oidc/callback"): Gl("/login/oidc/callback?code=c&state=s"),
        ("POST", "/logout"): Gl("/logout", form={}),
        ("GET", "/"): Gl("/"),
        ("GET", "/alerts"): Gl("/alerts"),
        ("GET", "/alerts/{alert_id}"): On(f"/alerts/{w.alert}"),
        ("POST", "/alerts/acknowledge"): On("/alerts/acknowledge", form={"alert_id": w.alert}),
        ("POST", "/oncall/override"): Gl("/oncall/override", form={"schedule": "x"}),
        ("POST", "/flags/create"): Gl("/flags/create", form={"key": "walked", "reason": "r"}),
        ("GET", "/flags/{key}"): Gl("/flags/kill-switch"),
        ("GET", "/oncall"): Gl("/oncall"),
        ("GET", "/deployments"): Gl("/deployments"),
        ("POST", "/deployments/rollback"): Gl("/deployments/rollback", form={"service": "x"}),
        ("GET", "/flags"): Gl("/flags"),
        ("POST", "/flags/flip"): Gl("/flags/flip", form={"key": "x"}),
        ("GET", "/analytics"): Gl("/analytics"),
        ("GET", "/people"): Gl("/people"),
        ("GET", "/me/tokens"): Gl("/me/tokens"),
        ("POST", "/me/tokens"): Gl("/me/tokens", form={"name": "walked"}),
        ("POST", "/me/tokens/revoke"): Gl("/me/tokens/revoke", form={"key_id": "nope"}),
        ("POST", "/people"): Gl("/people", form={"handle": "walked-page", "role": "viewer"}),
        ("POST", "/people/disable"): Gl("/people/disable", form={"handle": "nobody"}),
        ("POST", "/people/enable"): Gl("/people/enable", form={"handle": "nobody"}),
        ("POST", "/people/role"): Gl("/people/role", form={"handle": "nobody", "role": "admin"}),
        ("GET", "/static/{name}"): Gl("/static/live.js"),
        ("GET", "/partials/incidents"): Gl("/partials/incidents"),
        ("GET", "/events/dashboard"): Gl("/events/dashboard", stream=True),
        ("POST", "/incidents"): Gl("/incidents", form={"title": "other", "severity": "SEV4"}),
        ("GET", "/incidents/{incident_id}"): On(f"/incidents/{inc}"),
        ("GET", "/incidents/{incident_id}/postmortem"): On(f"/incidents/{inc}/postmortem"),
        ("GET", "/incidents/{incident_id}/events"): On(f"/incidents/{inc}/events", stream=True),
        ("GET", "/partials/incidents/{incident_id}/war-room"): On(
            f"/partials/incidents/{inc}/war-room"
        ),
        ("GET", "/partials/incidents/{incident_id}/charts"): On(
            f"/partials/incidents/{inc}/charts"
        ),
        ("POST", "/incidents/{incident_id}/messages"): On(
            f"/incidents/{inc}/messages", form=marked
        ),
        ("POST", "/incidents/{incident_id}/status-page"): On(
            f"/incidents/{inc}/status-page", form={"draft_id": "1", "action": "publish", **marked}
        ),
        ("POST", "/incidents/{incident_id}/acknowledge"): On(
            f"/incidents/{inc}/acknowledge", form={}
        ),
        ("POST", "/incidents/{incident_id}/change"): On(
            f"/incidents/{inc}/change", form={"status": "resolved", "resolution": "x"}
        ),
        ("POST", "/incidents/{incident_id}/platform"): On(
            f"/incidents/{inc}/platform", form={"action": "restart", "service": SERVICE}
        ),
        ("POST", "/incidents/{incident_id}/postmortem/{step}"): On(
            f"/incidents/{inc}/postmortem/timeline_accurate", form={}
        ),
        ("POST", "/incidents/{incident_id}/runs/{run_id}/{decision}"): On(
            f"/incidents/{inc}/runs/{w.ids['awaiting']}/approve", form={}
        ),
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers too, HEAD aside."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x

        found = [(c.methods, c.path) for c in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI: the routes are flat
        found = [(getattr(r, "methods", None), getattr(r, "path", "")) for r in app.routes]
    return {(m, str(path)) for methods, path in found for m in methods or () if m != "HEAD"}


def test_every_route_has_a_row(container: Container) -> None:
    world = World("INC-20240115-0001", "a", ["run_x"], ids={"awaiting": "run_y"})
    missing = app_routes(create_app(container)) - set(cases(world))
    assert not missing, "routes without a row in tests/e2e/test_clearance.py: " + ", ".join(
        f"{m} {p}" for m, p in sorted(missing)
    )


# ----------------------------------------------------------------------------------- the world


def _ok(answer: Any) -> Any:
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def build_world(container: Container, api: TestClient) -> World:
    """A security breach as triage sees it, declared (private war room), worked, resolved with
    a postmortem, then reopened: open on the dashboard and with every kind of record."""
    container.settings.triage_worker = False
    _ok(api.put(f"/v1/services/{SERVICE}", json={"tier": "critical", "owner_team": "sec"}))
    alert = {
        "alert_id": "ev-7030",
        "alert_source": "events",
        "alert_data": {
            "service": SERVICE,
            "metric": "data_export_rows",
            "current_value": 4000,
            "threshold": "< 100",
            "severity_hint": "critical",
            "summary": f"{MARKER} anomalous admin login then export of 4,000 customer records",
        },
    }
    triage = _ok(api.post("/v1/orchestrate", json={"agent": "triage-responder", "inputs": alert}))
    inc = triage["output"]["incident_id"]
    incident = _ok(api.get(f"/v1/incidents/{inc}"))
    assert incident["private"], "triage did not declare a security incident"
    [stored_alert] = _ok(api.get("/v1/alerts", params={"incident_id": inc}))["items"]
    _ok(api.patch(f"/v1/incidents/{inc}", json={"summary": f"{MARKER} summary"}))
    _ok(api.post(f"/v1/incidents/{inc}/messages", json={"text": f"{MARKER} in the war room"}))
    _ok(api.patch(f"/v1/incidents/{inc}", json={"status": "resolved", "resolution_summary": "r"}))
    drafted = store_postmortem(container, inc)
    _ok(api.patch(f"/v1/incidents/{inc}", json={"status": "investigating"}))
    hypothesis = {"hypothesis": f"{MARKER} stolen token", "confidence": 0.7}
    _ok(api.post(f"/v1/incidents/{inc}/hypotheses", json=hypothesis))
    runs = [triage["run_id"], drafted]
    world = World(inc, stored_alert["id"], runs, ids={"awaiting": awaiting_restart(container, inc)})
    items = _ok(api.get("/v1/action-items", params={"incident_id": inc}))
    if items:
        world.item = items[0]["id"]
    return world


def store_postmortem(container: Container, incident_id: str) -> str:
    """The analyst's draft and its run, as drafting stores them. (Drafting a security breach
    that has no verified mitigation fails today on the template, issue 13 item 4, fixed on
    another branch; the records are what matters here.)"""
    now = container.clock.now()
    markdown = f"# Postmortem\n\n{MARKER} what happened"
    draft = {"title": f"{MARKER} breach", "analysis_method": "five_whys"}
    kept = Postmortem(incident_id, PostmortemStatus.DRAFT, "five_whys", draft, markdown, now, now)
    run = AgentRun(
        "run_postmortem0000000001",
        "postmortem-analyst",
        RunStatus.COMPLETED,
        {"incident_id": incident_id},
        now,
        "responder",
        output={"draft": draft, "markdown": markdown},
        incident_id=incident_id,
        finished_at=now,
    )
    with container.uow() as uow:
        uow.postmortems.put(kept)
        uow.agent_runs.add(run)
        uow.commit()
    return run.id


def awaiting_restart(container: Container, incident_id: str) -> str:
    """A restart of the service waiting for a second person's approval."""
    now = container.clock.now()
    run = AgentRun(
        "run_restart000000000001",
        "railway-deployer",
        RunStatus.AWAITING_APPROVAL,
        {"action": "restart", "service": SERVICE, "incident_id": incident_id},
        now,
        "responder",
        output={"plan": {"action": "restart", "service": SERVICE}, "requested_by": "responder"},
        incident_id=incident_id,
    )
    with container.uow() as uow:
        uow.agent_runs.add(run)
        uow.commit()
    return run.id


def snapshot(api: TestClient, world: World) -> tuple[Any, ...]:
    incident = _ok(api.get(f"/v1/incidents/{world.incident}"))
    events = _ok(api.get(f"/v1/incidents/{world.incident}/timeline"))["events"]
    return incident["version"], len(events), len(_ok(api.get("/v1/audit")))


# ------------------------------------------------------------------------------------ running


def signed_in(container: Container, token: str) -> tuple[TestClient, str]:
    """A browser signed in with ``token`` (refused keys stay signed out) and its CSRF token."""
    client = TestClient(
        create_app(container), raise_server_exceptions=False, follow_redirects=False
    )
    form = CSRF.search(client.get("/login").text)
    body = f"api_key={token}" + (f"&csrf={form.group(1)}" if form else "")
    client.post("/login", content=body, headers=FORM)
    page = client.get("/")
    found = CSRF.search(page.text)
    return client, found.group(1) if found else ""


def call(api: TestClient, browser: TestClient, csrf: str, method: str, case: Case) -> str:
    page = not case.path.startswith(("/v1/", "/v2/", "/ofrep/", "/openapi", "/docs", "/redoc"))
    client = browser if page else api
    if case.stream:
        with client.stream(method, case.path) as answer:
            status = answer.status_code
            text = "" if status == 200 else answer.read().decode()
        return f"{status} {text}"
    if case.form is not None:
        fields = {**case.form, "csrf": csrf} if page else case.form
        content = "&".join(f"{k}={v}" for k, v in fields.items())
        answer = client.request(method, case.path, content=content, headers=FORM)
    else:
        answer = client.request(method, case.path, json=case.json, params=case.params)
    return f"{answer.status_code} {answer.headers.get('location', '')} {answer.text}"


@pytest.fixture
def world(container: Container) -> tuple[World, TestClient]:
    cleared = make_key(container, Scope.ADMIN, Scope.SECURITY, name="responder")
    api = TestClient(create_app(container), raise_server_exceptions=False)
    api.headers["Authorization"] = f"Bearer {cleared}"
    return build_world(container, api), api


def test_no_private_text_reaches_a_key_without_clearance(
    container: Container, world: tuple[World, TestClient]
) -> None:
    found, cleared_api = world
    table = cases(found)
    before = snapshot(cleared_api, found)
    rotate = ("POST", "/v1/security/rotate")
    leaks, acted = [], []
    for label, scopes in UNCLEARED.items():
        token = make_key(container, *scopes, name=f"key-{label}")
        api = TestClient(create_app(container), raise_server_exceptions=False)
        api.headers["Authorization"] = f"Bearer {token}"
        browser, csrf = signed_in(container, token)
        for (method, route), case in sorted(table.items()):
            if (method, route) == rotate:
                continue  # run last: it replaces every key
            said = call(api, browser, csrf, method, case)
            if MARKER in said:
                leaks.append(f"{label}: {method} {route}")
            if case.about and said[:3] not in ("401", "403", "404", "303"):
                acted.append(f"{label}: {method} {route} answered {said[:3]}")
    assert not leaks, "private text reached a key without clearance:\n" + "\n".join(leaks)
    assert not acted, "a key without clearance was not refused:\n" + "\n".join(acted)
    assert snapshot(cleared_api, found)[:2] == before[:2], "the incident changed"
    admin = TestClient(create_app(container), raise_server_exceptions=False)
    admin.headers["Authorization"] = f"Bearer {make_key(container, Scope.ADMIN, name='root')}"
    assert MARKER not in call(admin, admin, "", rotate[0], table[rotate])


def test_the_marker_is_there_for_a_cleared_key(
    container: Container, world: tuple[World, TestClient]
) -> None:
    """The other side: the same calls show the marker to a key with `security`, so the test
    above can fail."""
    found, api = world
    browser, csrf = signed_in(container, api.headers["Authorization"].split()[1])
    table = cases(found)
    shows = [
        route
        for (method, route), case in sorted(table.items())
        if method == "GET" and not case.stream and MARKER in call(api, browser, csrf, method, case)
    ]
    for route in (
        "/v1/incidents",
        "/v1/incidents/{incident_id}",
        "/v1/incidents/{incident_id}/timeline",
        "/v1/incidents/{incident_id}/messages",
        "/v1/incidents/{incident_id}/postmortem",
        "/v1/alerts",
        "/v1/alerts/{alert_id}",
        "/v1/orchestrate/runs/{run_id}",
        "/v1/audit",
        "/",
        "/alerts",
        "/incidents/{incident_id}",
        "/partials/incidents/{incident_id}/war-room",
    ):
        assert route in shows, f"{route} does not show the marker to a cleared key"


def test_write_only_key_gets_403_on_the_postmortem_routes(
    container: Container, world: tuple[World, TestClient]
) -> None:
    """The issue's reproduction: a write-only key commenting on a security incident's
    postmortem got the whole record back."""
    found, _ = world
    writer = TestClient(create_app(container), raise_server_exceptions=False)
    writer.headers["Authorization"] = f"Bearer {make_key(container, Scope.WRITE, name='w')}"
    base = f"/v1/incidents/{found.incident}/postmortem"
    for path, body in (
        ("/comments", {"text": "hi"}),
        ("/edits", {"markdown": "# x"}),
        ("/submit", None),
        ("/checks/timeline_accurate", None),
        ("/learnings", {"summary": "s", "reference": "r"}),
        ("/publish", None),
    ):
        answer = writer.post(base + path, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert "security" in answer.json()["detail"] and MARKER not in answer.text


def test_a_hidden_incident_reads_like_a_missing_one(
    container: Container, world: tuple[World, TestClient]
) -> None:
    found, _ = world
    reader = TestClient(create_app(container), raise_server_exceptions=False)
    reader.headers["Authorization"] = f"Bearer {make_key(container, Scope.READ, name='r')}"
    hidden = reader.get(f"/v1/incidents/{found.incident}")
    day = found.incident.split("-")[1]
    missing = reader.get(f"/v1/incidents/INC-{day}-9999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(found.incident, "X") == missing.json()["detail"].replace(
        f"INC-{day}-9999", "X"
    )
    listed = reader.get("/v1/incidents").json()
    assert found.incident not in {i["id"] for i in listed["items"]}
    assert listed["total"] == len(listed["items"])
    assert reader.get("/v1/alerts").json()["total"] == 0
    later = (container.clock.now() + timedelta(days=1)).isoformat()
    assert reader.get("/v1/analytics", params={"until": later}).json()["incidents"] == 0
