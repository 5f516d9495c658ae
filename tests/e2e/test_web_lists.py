"""The list pages over HTTP, as a browser uses them: alerts (filters, one alert with its
triage report, acknowledge), feature flags (create, history), on call (names, overrides),
deployments (roll back only to a version that exists) and the browser's error pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.services.triage.flow import process_pending
from tests.conftest import make_key
from tests.e2e.intake_support import SEED_ALERT
from tests.e2e.test_api_oncall import example
from tests.e2e.test_web_pages import CSRF, FORM, sign_in

PAGE = {"Accept": "text/html,application/xhtml+xml"}


def post_form(client: TestClient, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """Post a page's form with the session's CSRF token, as the browser does."""
    token = CSRF.search(client.get("/").text)
    assert token is not None
    answer = client.post(
        path, content=urlencode(fields | {"csrf": token.group(1)}), headers=FORM | PAGE
    )
    return answer.status_code, answer.headers.get("location", answer.text)


def test_a_browser_gets_pages_for_errors_and_the_api_keeps_problem_json(
    container: Container, admin_token: str
) -> None:
    client = sign_in(container, admin_token)
    missing = client.get("/no-such-page", headers=PAGE)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Not here</h1>" in missing.text and "Back to the dashboard" in missing.text
    assert client.get("/v1/no-such-route", headers=PAGE).headers["content-type"] == (
        "application/problem+json"
    )
    assert client.get("/no-such-page").headers["content-type"] == "application/problem+json"
    reader = sign_in(container, make_key(container, Scope.READ, name="reader"))
    status, text = post_form(reader, "/flags/create", {"key": "x", "reason": "r"})
    assert status == 403 and "<h1>Not allowed</h1>" in text and "&#39;write&#39; scope" in text
    status, text = post_form(client, "/alerts/acknowledge", {"alert_id": "alt_nope"})
    assert status == 404 and "alt_nope does not exist" in text


def test_alerts_filter_and_show_the_triage_report(
    quiet_api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    seed = quiet_api.post("/v1/alerts", json=SEED_ALERT).json()
    clock.advance(timedelta(hours=3))
    other = {**SEED_ALERT, "dedup_key": "b-1", "service": "billing", "summary": "Billing slow"}
    quiet_api.post("/v1/alerts", json={**other, "metric": "p99_latency"})
    assert process_pending(container.uow, container.clock, container.triage_agent) >= 1
    client = sign_in(container, admin_token)

    def listed(**query: str) -> set[str]:
        page = client.get("/alerts", params=query)
        assert page.status_code == 200, page.text
        return set(re.findall(r'<a href="/alerts/(alt_[^"]+)">', page.text))

    assert seed["alert_id"] in listed()
    assert len(listed()) == 2
    assert listed(service="billing") == listed() - {seed["alert_id"]}
    assert listed(seen="1h") == listed(service="billing")  # the seed's alert is 3 hours old
    assert listed(status="resolved") == set()
    assert listed(source="events") == listed()
    assert client.get("/alerts", params={"status": "sleeping"}).status_code == 422

    detail = client.get(f"/alerts/{seed['alert_id']}").text
    assert "API error rate 12% (threshold &lt; 1%)" in detail
    run = quiet_api.get(f"/v1/alerts/{seed['alert_id']}").json()
    incident = run["incident_id"]
    assert incident and f'<a href="/incidents/{incident}">' in detail
    assert "<strong>SEV2</strong>" in detail  # the triage-responder's report
    assert '<ul class="rationale">' in detail and "Acknowledge</button>" in detail

    status, where = post_form(client, "/alerts/acknowledge", {"alert_id": seed["alert_id"]})
    assert (status, where) == (303, f"/alerts/{seed['alert_id']}")
    assert quiet_api.get(f"/v1/alerts/{seed['alert_id']}").json()["status"] == "acknowledged"
    assert "Acknowledge</button>" not in client.get(where).text


def test_a_flag_is_created_and_its_history_kept(
    api: TestClient, container: Container, admin_token: str
) -> None:
    client = sign_in(container, admin_token)
    fields = {"key": "bulk-execution", "description": "Bulk job runner", "service": "api"}
    status, where = post_form(client, "/flags/create", fields | {"reason": "new runner"})
    assert (status, where) == (303, "/flags/bulk-execution")
    assert api.get("/v1/feature-flags/bulk-execution").json()["enabled"] is False
    again = post_form(client, "/flags/create", fields | {"reason": "twice"})
    assert again[0] == 409 and "exists already" in again[1]
    assert post_form(client, "/flags/create", {"key": "bad key!", "reason": "r"})[0] == 422
    assert post_form(client, "/flags/create", {"key": "no-reason"})[0] == 422
    flip = {"key": "bulk-execution", "enabled": "true", "reason": "load test", "confirm": "yes"}
    assert post_form(client, "/flags/flip", flip)[0] == 303
    history = client.get("/flags/bulk-execution").text
    row = r"<tr><td>[\d-]+ [\d:]+</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>"
    rows = re.findall(row, history)
    assert rows == [
        ("off → <strong>on</strong>", "admin", "load test"),
        ("created off", "admin", "new runner"),
    ], history
    assert client.get("/flags/no-such-flag", headers=PAGE).status_code == 404


def test_the_oncall_page_names_people_and_takes_an_override(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 1, 7, 12, 0, tzinfo=UTC))  # a Wednesday, 13:00 in Berlin
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    client = sign_in(container, admin_token)
    page = client.get("/oncall").text
    assert "Ana Oliveira" in page and "times in Europe/Berlin" in page
    cover = {
        "schedule": "backend-primary",
        "handle": "cy",
        "start": "2026-01-08T09:00",  # Berlin time: 08:00 UTC
        "end": "2026-01-08T17:00",
        "reason": "Ana at the dentist",
    }
    assert post_form(client, "/oncall/override", cover) == (303, "/oncall")
    shifts = api.get(
        "/v1/schedules/backend-primary/shifts",
        params={"start": "2026-01-08T00:00:00Z", "end": "2026-01-09T00:00:00Z"},
    ).json()
    covered = [s for s in shifts if s["handle"] == "cy"]
    assert [(s["starts_at"][:16], s["ends_at"][:16]) for s in covered] == [
        ("2026-01-08T08:00", "2026-01-08T16:00")
    ]
    backwards = cover | {"end": "2026-01-08T08:00"}
    assert post_form(client, "/oncall/override", backwards)[0] == 422
    nobody = cover | {"handle": "zed"}
    status, text = post_form(client, "/oncall/override", nobody)
    assert status == 422 and "zed" in text


def test_roll_back_is_offered_only_with_a_version_to_go_back_to(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    api.post("/v1/deployments", json={"service": "first-only", "version": "v1"})
    api.post("/v1/deployments", json={"service": "twice", "version": "v1"})
    clock.advance(timedelta(minutes=5))
    api.post("/v1/deployments", json={"service": "twice", "version": "v2"})
    page = sign_in(container, admin_token).get("/deployments").text
    assert "Roll back twice to v1</button>" in page
    assert "Roll back first-only" not in page
    assert "no earlier version to roll back to" in page
