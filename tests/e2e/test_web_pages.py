"""The signed-in pages over HTTP: sign-in with a key or a one-time link, the cookie's
attributes, CSRF on forms, scopes, the dashboard and the incident page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.adapters.publishing.markdown_dir import MarkdownDirectory
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from so1.services.access.web_sessions import new_login_link
from so1.services.incidents.recording import Actor
from tests.conftest import make_key, open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.conftest import Cli
from tests.e2e.deployer_support import ROLLBACK_INPUTS, SERVICE, finished

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def browser(container: Container) -> TestClient:
    return TestClient(create_app(container), raise_server_exceptions=False, follow_redirects=False)


def login_form(client: TestClient, token: str) -> dict[str, str]:
    """What the sign-in form posts: the key and the form's CSRF token (GET /login first)."""
    found = CSRF.search(client.get("/login").text)
    assert found is not None
    return {"api_key": token, "csrf": found.group(1)}


def sign_in(container: Container, token: str) -> TestClient:
    client = browser(container)
    answer = client.post("/login", content=urlencode(login_form(client, token)), headers=FORM)
    assert answer.status_code == 303, answer.text
    return client


def test_sign_in_sets_a_safe_cookie_and_shows_the_dashboard(
    container: Container, admin_token: str
) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV1, service="checkout")
    anonymous = browser(container)
    assert anonymous.get("/").headers["location"] == "/login"
    form = login_form(anonymous, "so1_nope_nope")
    refused = anonymous.post("/login", content=urlencode(form), headers=FORM)
    assert refused.status_code == 401 and "was not accepted" in refused.text

    client = browser(container)
    answer = client.post("/login", content=urlencode(login_form(client, admin_token)), headers=FORM)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "so1_session=" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert incident.id in page.text and "Checkout down" in page.text
    assert '<span class="sev SEV1">' in page.text


def test_the_incident_page_posts_to_the_war_room_with_csrf(
    container: Container, admin_token: str
) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV1)
    client = sign_in(container, admin_token)
    page = client.get(f"/incidents/{incident.id}")
    assert page.status_code == 200 and "Runbook checks" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = client.post(
        f"/incidents/{incident.id}/messages", content="text=hi&csrf=wrong", headers=form
    )
    assert forged.status_code == 403
    posted = client.post(
        f"/incidents/{incident.id}/messages",
        content=f"text=Rolling+back+now&csrf={token.group(1)}",
        headers=form,
    )
    assert posted.status_code == 303
    assert "Rolling back now" in client.get(f"/incidents/{incident.id}").text
    assert client.get("/incidents/INC-20240115-9999").status_code == 404


def test_scopes_apply_and_revocation_ends_the_session(container: Container) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV2)
    reader_token = make_key(container, Scope.READ, name="viewer")
    reader = sign_in(container, reader_token)
    page = reader.get(f"/incidents/{incident.id}")
    assert page.status_code == 200 and "Post to the war room" not in page.text
    token = CSRF.search(page.text)
    assert token is not None
    refused = reader.post(
        f"/incidents/{incident.id}/messages",
        content=f"text=x&csrf={token.group(1)}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 403
    from so1.services.access import keys as access

    [key] = [k for k in access.list_keys(container.uow) if k.name == "viewer"]
    access.revoke_key(container.uow, container.clock, Actor("t"), key.id)
    assert reader.get("/").headers["location"] == "/login"


def test_a_login_link_works_once(container: Container, admin_token: str) -> None:
    token = new_login_link(container.uow, container.clock, Actor("cli"), "admin").token
    client = browser(container)
    first = client.get(f"/login/{token}")
    assert first.status_code == 303 and "so1_session=" in first.headers["set-cookie"]
    assert client.get("/").status_code == 200
    again = browser(container).get(f"/login/{token}")
    assert again.status_code == 401 and "unknown, used or expired" in again.text


def test_so1_login_link_prints_a_working_link(server_cli: Cli, container: Container) -> None:
    printed = server_cli("login-link").assert_ok().last_line
    assert printed.startswith(f"{server_cli.api_url}/login/")
    token = printed.rsplit("/login/", 1)[1]
    assert browser(container).get(f"/login/{token}").status_code == 303
    reader = make_key(container, Scope.READ, name="viewer")
    named = server_cli("login-link", "--key", "viewer").assert_ok()
    assert "Sign in as viewer" in named.stdout
    assert (
        "no usable API key named 'ghost'"
        in server_cli("login-link", "--key", "ghost").assert_clean_failure()
    )
    server_cli.api_key = reader  # not an admin: its own link only
    assert "Sign in as viewer" in server_cli("login-link").assert_ok().stdout
    other = server_cli("login-link", "--key", "admin").assert_clean_failure()
    assert "only an admin key" in other


def test_approve_and_undo_a_mitigation_from_the_incident_page(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    incident = open_incident(container, "Outage", Severity.SEV1, service=SERVICE)
    inputs = {**ROLLBACK_INPUTS, "incident_id": incident.id}
    run = api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": inputs}).json()
    lead = sign_in(
        container, make_key(container, Scope.READ, Scope.WRITE, Scope.DEPLOY, name="lead")
    )
    page = lead.get(f"/incidents/{incident.id}")
    assert "awaiting approval" in page.text and f"/runs/{run['run_id']}/approve" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    approved = lead.post(
        f"/incidents/{incident.id}/runs/{run['run_id']}/approve",
        content=f"csrf={token.group(1)}",
        headers=form,
    )
    assert approved.status_code == 303
    done = finished(api, run["run_id"])
    assert done["status"] == "completed" and done["output"]["approved_by"] == "lead"
    page = lead.get(f"/incidents/{incident.id}")
    assert "Undo (rollback)" in page.text
    undone = lead.post(
        f"/incidents/{incident.id}/runs/{run['run_id']}/undo",
        content=f"csrf={token.group(1)}",
        headers=form,
    )
    assert undone.status_code == 303
    runs = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    assert sum(e["kind"] == "mitigation.awaiting_approval" for e in runs) == 2  # the undo waits too


def test_declare_mitigate_resolve_and_publish_by_forms(
    api: TestClient,
    container: Container,
    admin_token: str,
    railway: RailwayState,
    tmp_path: Path,
) -> None:
    container.adapters.postmortems = MarkdownDirectory(tmp_path / "content")
    client = sign_in(container, admin_token)
    token = CSRF.search(client.get("/").text)
    assert token is not None
    csrf = token.group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def post(path: str, fields: dict[str, str]) -> str:
        answer = client.post(path, content=urlencode(fields | {"csrf": csrf}), headers=form)
        assert answer.status_code == 303, answer.text
        return str(answer.headers["location"])

    where = post(
        "/incidents", {"title": "API error rate spike", "severity": "SEV2", "service": SERVICE}
    )
    incident_id = where.rsplit("/", 1)[1]
    page = client.get(where).text
    assert "#incident-" in page and "Incident Declared" in page
    assert 'id="platform-form"' in page  # the admin key may deploy
    samples = [{"service": SERVICE, "metric": "error_rate", "value": v} for v in (12.0,)]
    api.post("/v1/metrics", json={"samples": samples})
    charted = client.get(where).text
    assert "<polyline" in charted and "error_rate: 12 percent (gate &lt; 1)" in charted
    post(
        f"/incidents/{incident_id}/platform",
        {"action": "set_variables", "service": SERVICE, "variable": "DATABASE_POOL_SIZE=50"},
    )
    assert wait_for_variables(railway)  # the deployer runs in the background
    post(
        f"/incidents/{incident_id}/change",
        {"status": "resolved", "resolution": "Pool raised from 20 to 50"},
    )
    api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident_id}},
    )
    review_page = client.get(f"/incidents/{incident_id}/postmortem").text
    assert "Send for review" in review_page
    assert "<h2>Action items</h2>" in review_page
    # no one is on call here: the items wait for an owner, and no line names "@None"
    assert "<td>to assign</td>" in review_page and "@None" not in review_page
    assert "<h2>Summary</h2>" in review_page  # the markdown is rendered for the preview
    injected = "# Title\n<script>alert(1)</script>\n"
    post(f"/incidents/{incident_id}/postmortem/edit", {"markdown": injected})
    preview = client.get(f"/incidents/{incident_id}/postmortem").text
    assert "<script>alert(1)</script>" not in preview  # escaped in the editor and the preview
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    post(f"/incidents/{incident_id}/postmortem/submit", {})
    checks = ("timeline_accurate", "root_cause_validated", "action_items_complete")
    for check in checks:
        post(f"/incidents/{incident_id}/postmortem/{check}", {})
    container.settings.war_room_archive = "never"
    ticked_page = client.get(f"/incidents/{incident_id}/postmortem").text
    assert "Publishing needs 1 reviewer, each ticking every check" in ticked_page
    assert "not its author (admin) and not whoever publishes" in ticked_page
    assert '✅ Timeline accuracy <span class="muted">(admin)</span>' in ticked_page
    assert ticked_page.count("Tick: ") == 3  # a second reader can still tick each
    publish = f"/incidents/{incident_id}/postmortem/publish"
    alone = client.post(publish, content=urlencode({"csrf": csrf}), headers=form)
    assert alone.status_code == 409 and "needs 1 reviewer other than admin" in alone.text
    second = {"Authorization": f"Bearer {make_key(container, Scope.WRITE, name='reviewer')}"}
    for check in checks:  # a second reader ticks the runbook's review checks
        ticked = api.post(f"/v1/incidents/{incident_id}/postmortem/checks/{check}", headers=second)
        assert ticked.status_code == 200
    post(publish, {})
    published = client.get(f"/incidents/{incident_id}/postmortem").text
    assert '<strong id="pm-status">published</strong>' in published
    assert list((tmp_path / "content" / "postmortems").glob("*-api-error-rate-spike.md"))
    said = api.get(f"/v1/incidents/{incident_id}/messages").json()
    assert "archive" not in [m["kind"] for m in said]  # the war room stays open
    refused = client.post(
        "/incidents", content=urlencode({"title": "", "csrf": csrf}), headers=form
    )
    assert refused.status_code == 422 and "needs a title" in refused.text


def wait_for_variables(railway: RailwayState) -> bool:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if railway.variables.get("svc-cpa") == {"DATABASE_POOL_SIZE": "50"}:
            return True
        time.sleep(0.05)
    return False


def test_the_list_pages(
    api: TestClient, container: Container, admin_token: str, railway: RailwayState
) -> None:
    from tests.e2e.test_api_oncall import example

    api.put("/v1/oncall/config", json=example())
    api.put("/v1/feature-flags/bulk-execution", json={"enabled": True, "service": SERVICE})
    api.post("/v1/deployments", json={"service": SERVICE, "version": "v8", "deployed_by": "dana"})
    api.post("/v1/deployments", json={"service": SERVICE, "version": "v9", "deployed_by": "dana"})
    api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "source": "datadog",
            "summary": "Disk 91% full",
            "service": SERVICE,
        },
    )
    client = sign_in(container, admin_token)
    for path, expected in (
        ("/alerts", "Disk 91% full"),
        ("/oncall", "backend-primary"),
        ("/deployments", "Roll back control-plane-api to v8"),
        ("/flags", "bulk-execution"),
        ("/analytics", "By severity"),
    ):
        page = client.get(path)
        assert page.status_code == 200 and expected in page.text, path
    token = CSRF.search(client.get("/flags").text)
    assert token is not None
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    base = {"key": "bulk-execution", "enabled": "false", "csrf": token.group(1)}
    unconfirmed = client.post(
        "/flags/flip", content=urlencode(base | {"reason": "pool"}), headers=form
    )
    assert unconfirmed.status_code == 422 and "confirmation" in unconfirmed.text
    flipped = client.post(
        "/flags/flip",
        headers=form,
        content=urlencode(base | {"reason": "pool exhaustion", "confirm": "yes"}),
    )
    assert flipped.status_code == 303
    assert api.get("/v1/feature-flags/bulk-execution").json()["enabled"] is False
    rolled = client.post(
        "/deployments/rollback",
        headers=form,
        content=urlencode({"service": SERVICE, "csrf": token.group(1)}),
    )
    assert rolled.status_code == 303
    assert any(name == "deployments" for name, _ in railway.calls)


def test_the_incident_page_recommends_the_runbook_strategies(
    container: Container, admin_token: str
) -> None:
    from so1.domain.incidents import TimelineEvent

    incident = open_incident(container, "Pool exhausted", Severity.SEV1, service=SERVICE)
    hypotheses = [{"cause": "connection_exhaustion", "confidence": 0.9, "evidence": ["pool 100%"]}]
    with container.uow() as uow:
        uow.timeline.add(
            TimelineEvent(
                incident.id,
                container.clock.now(),
                "triage.report",
                "so1",
                "triage",
                {"hypotheses": hypotheses},
            )
        )
        uow.commit()
    page = sign_in(container, admin_token).get(f"/incidents/{incident.id}").text
    assert "Recommended for connection exhaustion" in page
    assert "Configuration change" in page and "Restart" in page
    assert "needs an approval" in page  # restart is medium risk, and this is a SEV1


def test_a_feature_flag_is_turned_off_from_the_incident_page(
    api: TestClient, container: Container, admin_token: str
) -> None:
    incident = open_incident(container, "Pool exhausted", Severity.SEV2, service=SERVICE)
    api.put("/v1/feature-flags/bulk-execution", json={"enabled": True, "service": SERVICE})
    api.put("/v1/feature-flags/billing-v2", json={"enabled": True, "service": "billing"})
    client = sign_in(container, admin_token)
    page = client.get(f"/incidents/{incident.id}").text
    assert '<option value="flag_disable">Turn a feature flag off</option>' in page
    assert '<option value="bulk-execution">' in page
    assert "billing-v2" not in page  # another service's flag is not offered
    token = CSRF.search(page)
    assert token is not None
    fields = {"action": "flag_disable", "service": SERVICE, "flag": "bulk-execution"}
    answer = client.post(
        f"/incidents/{incident.id}/platform",
        content=urlencode(fields | {"csrf": token.group(1)}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 303, answer.text
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    run_id = next(e["data"]["run_id"] for e in events if e["kind"] == "mitigation.started")
    assert finished(api, run_id)["status"] == "completed"
    assert api.get("/v1/feature-flags/bulk-execution").json()["enabled"] is False
    after = client.get(f"/incidents/{incident.id}").text
    assert "Undo (flag_enable)" in after
    assert '<option value="flag_disable">' not in after  # no flag of this service is on now


def test_the_oncall_page_is_a_calendar_with_overrides_marked(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    from tests.e2e.test_api_oncall import example

    clock.set(datetime(2026, 1, 7, 12, 0, tzinfo=UTC))  # a Wednesday
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    cover = {"handle": "cy", "start": "2026-01-07T06:00:00Z", "end": "2026-01-07T18:00:00Z"}
    assert api.post("/v1/schedules/backend-primary/overrides", json=cover).status_code == 201
    page = sign_in(container, admin_token).get("/oncall").text
    primary = page[page.index("backend-primary") :]
    primary = primary[: primary.index("</table>")]
    assert 'Now: <strong>Cy Ndlovu <span class="muted">@cy</span></strong>' in primary
    assert primary.count("<tbody><tr>") == 1 and primary.count("<td") == 14  # two weeks
    today = primary[primary.index('aria-current="date"') :]
    today = today[: today.index("</td>")]
    assert "07 Jan" in today
    cover_slot = (
        '<div class="slot override" title="override">Cy Ndlovu <span class="muted">@cy</span> '
        '<span class="hours">07:00'
    )
    assert cover_slot + "\u201319:00" in today
    days = re.findall(r'<div class="date">(\d\d \w+)</div>', primary)
    assert days[0] == "05 Jan" and days[2] == "07 Jan" and days[-1] == "18 Jan"  # Monday first


def test_the_charts_refresh_as_samples_arrive(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    incident = open_incident(container, "Pool exhausted", Severity.SEV2, service=SERVICE)
    client = sign_in(container, admin_token)
    page = client.get(f"/incidents/{incident.id}").text
    assert f'<div id="charts-wrap" data-incident="{incident.id}"' in page
    path = f"/partials/incidents/{incident.id}/charts"
    sample = {"service": SERVICE, "metric": "error_rate", "value": 12.0}
    api.post("/v1/metrics", json={"samples": [sample]})
    assert "error_rate: 12 percent (gate &lt; 1)" in client.get(path).text
    later = clock.now() + timedelta(seconds=30)
    api.post("/v1/metrics", json={"samples": [sample | {"value": 0.4, "at": later.isoformat()}]})
    clock.set(later)
    assert "error_rate: 0.4 percent (gate &lt; 1)" in client.get(path).text
    assert browser(container).get(path).status_code == 401
    assert client.get("/partials/incidents/INC-20240115-9999/charts").status_code == 404


def test_every_answer_has_the_security_headers(container: Container, admin_token: str) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV2)
    client = sign_in(container, admin_token)
    for path in ("/login", "/", f"/incidents/{incident.id}", "/alerts", "/status", "/v1/health"):
        headers = browser(container).get(path).headers if path == "/login" else None
        headers = headers or client.get(path).headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-frame-options"] == "DENY", path
    for docs in ("/docs", "/redoc"):  # an inline start-up script, nothing from another host
        policy = client.get(docs).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, docs
        assert "http" not in policy, docs


def test_the_pages_have_no_inline_script_or_style(container: Container, admin_token: str) -> None:
    """What the CSP forbids must not be needed: every template, and the pages as served."""
    incident = open_incident(container, "Checkout down", Severity.SEV2)
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    folder = Path(__file__).resolve().parents[2] / "src/so1/entrypoints/web/templates"
    for template in sorted(folder.glob("*.html")):
        assert not inline.search(template.read_text()), template.name
    client = sign_in(container, admin_token)
    for path in ("/", f"/incidents/{incident.id}", "/status", "/login"):
        assert not inline.search(client.get(path).text), path
    assert client.get("/static/so1.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../pages.py").status_code == 404


def test_login_needs_the_forms_csrf_token(container: Container, admin_token: str) -> None:
    client = browser(container)
    body = {"api_key": admin_token}
    assert client.post("/login", content=urlencode(body), headers=FORM).status_code == 403
    form = login_form(client, admin_token)
    forged = client.post("/login", content=urlencode(form | {"csrf": "x"}), headers=FORM)
    assert forged.status_code == 403 and "sign in again" in forged.text
    other_site = browser(container)  # has no form cookie: a cross-site post
    assert other_site.post("/login", content=urlencode(form), headers=FORM).status_code == 403
    form = login_form(client, admin_token)  # each form shown has a new token
    assert client.post("/login", content=urlencode(form), headers=FORM).status_code == 303


def test_sign_out_revokes_the_session_on_the_server(container: Container, admin_token: str) -> None:
    client = sign_in(container, admin_token)
    cookie = client.cookies["so1_session"]
    page = client.get("/")
    assert page.status_code == 200
    token = CSRF.search(page.text)
    assert token is not None
    out = client.post("/logout", content=f"csrf={token.group(1)}", headers=FORM)
    assert out.status_code == 303
    replayed = browser(container)
    replayed.cookies.set("so1_session", cookie)  # the old cookie, still correctly signed
    assert replayed.get("/").headers["location"] == "/login"
    assert replayed.get("/partials/incidents").status_code == 401


def test_the_pages_need_the_read_scope(container: Container) -> None:
    for scopes in ((Scope.WRITE,), (Scope.DEPLOY,), (Scope.SECURITY,)):
        client = browser(container)
        token = make_key(container, *scopes, name=f"only-{scopes[0]}")
        answer = client.post("/login", content=urlencode(login_form(client, token)), headers=FORM)
        assert answer.status_code == 403 and "cannot sign in" in answer.text
        assert "need a key with the &#39;read&#39; scope" in answer.text
        assert client.get("/").headers["location"] == "/login"
    link = new_login_link(
        container.uow, container.clock, Actor("cli"), "only-write"
    ).token  # a link signs in as the key: the same rule
    assert browser(container).get(f"/login/{link}").status_code == 403


def test_the_charts_have_axes_units_and_the_gate_labelled(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    incident = open_incident(container, "Pool exhausted", Severity.SEV2, service=SERVICE)
    client = sign_in(container, admin_token)
    path = f"/partials/incidents/{incident.id}/charts"
    empty = client.get(path).text
    assert "error_rate (percent): no data yet (gate &lt; 1)" in empty
    start = clock.now()
    sample = {"service": SERVICE, "metric": "error_rate", "value": 12.0}
    api.post("/v1/metrics", json={"samples": [sample | {"at": start.isoformat()}]})
    clock.set(start + timedelta(minutes=5))
    drawn = client.get(path).text
    error_rate = drawn[: drawn.index("</figure>")]
    assert f'<text x="48" y="128">{start.strftime("%H:%M")}</text>' in error_rate  # x axis
    later = (start + timedelta(minutes=5)).strftime("%H:%M")
    assert f'text-anchor="end">{later} UTC</text>' in error_rate
    assert '<text x="44" y="12" text-anchor="end">12</text>' in error_rate  # y axis: the top
    assert 'fill="#8b0000">gate 1</text>' in error_rate
    assert 'aria-label="error_rate in percent from' in error_rate
    assert '<circle cx="' in error_rate  # one sample is a dot, not an invisible line
