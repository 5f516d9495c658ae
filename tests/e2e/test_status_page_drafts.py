"""Status-page notices follow SO1_STATUS_PAGE_APPROVAL: `auto` posts a SEV0-1 notice at once;
`draft` holds it until a person publishes it (API, CLI, incident page), and the runbook check
stays pending meanwhile. The public text speaks of the service's public name and the
incident's customer-facing summary, never its internal title or id; /status renders the
markdown and /status.json carries plain text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container, build_container
from so1.config import Settings, load_settings
from so1.errors import ConfigurationError
from so1.services.declaration.outbox import deliver_due
from tests.e2e.conftest import Cli
from tests.e2e.test_api_oncall import example
from tests.e2e.test_web_pages import CSRF, FORM, sign_in

TITLE = "Checkout latency high after payments-db failover"  # internal words
CUSTOMER = "Some customers see slow page loads while paying. Orders are not lost."
SERVICE = {"tier": "critical", "owner_team": "backend", "public_name": "Checkout"}
ID = re.compile(r"INC-\d{8}-\d+")


@pytest.fixture(params=["draft"])
def approval(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def container(db_url: str, clock: FixedClock, approval: str) -> Iterator[Container]:
    """The usual container, with SO1_STATUS_PAGE_APPROVAL set (and no background threads:
    the test delivers the outbox itself)."""
    settings = Settings(
        database_url=db_url,
        db_pool_size=5,
        auth_cache_seconds=0,
        status_page_approval=approval,
        triage_worker=False,
        delivery_worker=False,
        runbook_clocks=False,
    )
    built = build_container(settings, clock=clock)
    yield built
    built.close()


def declared_sev1(api: TestClient) -> str:
    """A SEV1 on `checkout-api` with a customer-facing summary, declared by the commander."""
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    assert api.put("/v1/services/checkout-api", json=SERVICE).status_code == 201
    new = {"title": TITLE, "severity": "SEV1", "service": "checkout-api"}
    created = api.post("/v1/incidents", json=new | {"customer_summary": CUSTOMER})
    assert created.status_code == 201, created.text
    incident_id: str = created.json()["id"]
    assert created.json()["customer_summary"] == CUSTOMER
    body = {"agent": "incident-commander", "inputs": {"incident_id": incident_id}}
    run = api.post("/v1/orchestrate", json=body)
    assert run.status_code == 200 and run.json()["status"] == "completed", run.text
    return incident_id


def notices(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/incidents/{incident_id}/status-page")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def deliver(container: Container) -> None:
    deliver_due(container.uow, container.clock, container.adapters.messengers)


def status_check(api: TestClient, incident_id: str) -> dict[str, Any]:
    checks = api.get(f"/v1/incidents/{incident_id}/runbook").json()["checks"]
    found: dict[str, Any] = next(c for c in checks if c["id"] == "status_page")
    return found


def assert_public_words_only(text: str, incident_id: str) -> None:
    assert incident_id not in text and not ID.search(text), text
    assert TITLE.lower() not in text.lower() and "payments-db" not in text, text


def test_draft_mode_holds_a_sev1_notice_until_someone_publishes_it(
    api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    (draft,) = notices(api, incident_id)
    assert (draft["status"], draft["kind"], draft["published_by"]) == ("draft", "declared", None)
    assert draft["title"] == "Checkout Performance Issues"  # the catalog's public name
    assert CUSTOMER in draft["text"]  # the incident's customer-facing summary
    assert_public_words_only(draft["title"] + draft["text"], incident_id)

    deliver(container)  # a draft is never delivered
    assert anon.get("/status.json").json()["incidents"] == []
    assert "Checkout Performance Issues" not in anon.get("/status").text
    waiting = status_check(api, incident_id)
    assert waiting["state"] in ("pending", "late") and "draft waiting" in waiting["evidence"]

    final = "**Investigating - Checkout slowness**\nSome customers see *slow* payments."
    published = api.post(f"/v1/incidents/{incident_id}/status-page/publish", json={"text": final})
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "pending"
    assert published.json()["published_by"] == "admin"  # the admin key's owner
    assert anon.get("/status.json").json()["incidents"] == []  # queued, not yet delivered
    deliver(container)

    public = anon.get("/status.json").json()
    (shown,) = public["incidents"]
    assert shown["title"] == "Checkout Performance Issues"
    assert [u["text"] for u in shown["updates"]] == [
        "Investigating - Checkout slowness\nSome customers see slow payments."
    ]
    assert "**" not in json.dumps(public) and "*slow*" not in json.dumps(public)
    assert_public_words_only(json.dumps(public), incident_id)
    page = anon.get("/status").text
    assert "<strong>Investigating - Checkout slowness</strong>" in page
    assert "<em>slow</em>" in page and "**" not in page
    assert status_check(api, incident_id)["state"] in ("done", "done_late")
    kept = notices(api, incident_id)[0]
    assert (kept["status"], kept["published_by"]) == ("sent", "admin")
    timeline = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    assert [e["actor"] for e in timeline if e["kind"] == "status_page.published"] == ["admin"]

    again = api.post(f"/v1/incidents/{incident_id}/status-page/publish", json={})
    assert again.status_code == 404 and "no status-page draft" in again.json()["detail"]


def test_resolving_after_a_published_draft_holds_the_resolved_notice_too(
    api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    assert api.post(f"/v1/incidents/{incident_id}/status-page/publish", json={}).status_code == 200
    deliver(container)
    resolved = {"status": "resolved", "resolution_summary": "failed back to the old primary"}
    assert api.patch(f"/v1/incidents/{incident_id}", json=resolved).status_code == 200
    deliver(container)
    declared, closing = notices(api, incident_id)
    assert (declared["status"], closing["status"], closing["kind"]) == ("sent", "draft", "resolved")
    assert closing["title"] == "Checkout Performance Issues"
    assert_public_words_only(closing["text"], incident_id)
    updates = anon.get("/status.json").json()["incidents"][0]["updates"]
    assert len(updates) == 1  # the resolved words wait for a person too
    body = {"draft_id": closing["id"]}
    assert (
        api.post(f"/v1/incidents/{incident_id}/status-page/publish", json=body).status_code == 200
    )
    deliver(container)
    updates = anon.get("/status.json").json()["incidents"][0]["updates"]
    assert updates[0]["text"].startswith("Resolved - Checkout Performance Issues")


def test_a_draft_is_edited_before_publishing_and_bad_text_is_refused(
    api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    (draft,) = notices(api, incident_id)
    path = f"/v1/incidents/{incident_id}/status-page/drafts/{draft['id']}"
    edited = api.patch(
        path, json={"text": "Payments are slow for some customers.", "title": "Slow"}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["edited_by"]) == ("draft", "admin")
    assert (notices(api, incident_id)[0]["text"], notices(api, incident_id)[0]["title"]) == (
        "Payments are slow for some customers.",
        "Slow",
    )
    deliver(container)
    assert anon.get("/status.json").json()["incidents"] == []  # still a draft

    publish = f"/v1/incidents/{incident_id}/status-page/publish"
    refusals = [
        ({"text": f"Tracking as {incident_id}."}, "text", "incident id"),
        ({"text": f"{TITLE}: we are on it"}, "text", "internal title"),
        ({"title": "   "}, "title", "empty"),
        ({"text": ""}, "inputs", ""),
        ({"draft_id": 999999}, None, "no status-page notice 999999"),
    ]
    for body, field, words in refusals:
        answer = api.post(publish, json=body)
        assert answer.status_code in (404, 422), (body, answer.text)
        problem = answer.json()
        assert words in problem["detail"] or words in json.dumps(problem), (body, problem)
        if answer.status_code == 422 and field in ("text", "title"):
            assert problem["errors"][0]["field"] == field
    assert api.patch(path.replace(str(draft["id"]), "0"), json={"text": "x"}).status_code == 422
    assert notices(api, incident_id)[0]["status"] == "draft"  # nothing was published


@pytest.mark.parametrize("approval", ["auto"])
def test_auto_mode_posts_the_notice_at_once_in_public_words(
    api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    (notice,) = notices(api, incident_id)
    assert notice["status"] == "pending" and notice["published_by"] is None
    deliver(container)
    public = anon.get("/status.json").json()
    (shown,) = public["incidents"]
    assert shown["title"] == "Checkout Performance Issues"
    assert CUSTOMER in shown["updates"][0]["text"] and "**" not in json.dumps(public)
    assert_public_words_only(json.dumps(public), incident_id)
    assert status_check(api, incident_id)["state"] == "done"
    refused = api.post(f"/v1/incidents/{incident_id}/status-page/publish", json={})
    assert refused.status_code == 404  # nothing waits in auto mode


def test_the_incident_page_publishes_a_draft(
    api: TestClient, anon: TestClient, container: Container, admin_token: str
) -> None:
    incident_id = declared_sev1(api)
    (draft,) = notices(api, incident_id)
    browser = sign_in(container, admin_token)
    page = browser.get(f"/incidents/{incident_id}")
    assert page.status_code == 200 and "draft, not public yet" in page.text
    assert f'name="draft_id" value="{draft["id"]}"' in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {
        "csrf": token.group(1),
        "draft_id": str(draft["id"]),
        "title": "Checkout payments slow",
        "text": "Payments take longer than usual for some customers.",
        "action": "publish",
    }
    done = browser.post(
        f"/incidents/{incident_id}/status-page", content=urlencode(form), headers=FORM
    )
    assert done.status_code == 303, done.text
    deliver(container)
    (shown,) = anon.get("/status.json").json()["incidents"]
    assert shown["title"] == "Checkout payments slow"
    assert "published by @admin" in browser.get(f"/incidents/{incident_id}").text

    bad = dict(form, draft_id=str(draft["id"]))  # published already: a clear refusal, no 500
    again = browser.post(
        f"/incidents/{incident_id}/status-page", content=urlencode(bad), headers=FORM
    )
    assert again.status_code == 409 and "already published" in again.text


def test_the_cli_publishes_a_draft(
    server_cli: Cli, api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    shown = server_cli("incident", "status-page", "show", incident_id).assert_ok()
    assert "draft" in shown.stdout and "Checkout Performance Issues" in shown.stdout
    text = "Payments are slow for some customers; we are on it."
    done = server_cli("incident", "status-page", "publish", incident_id, "--text", text)
    assert "published status-page notice" in done.assert_ok().stdout
    deliver(container)
    (public,) = anon.get("/status.json").json()["incidents"]
    assert [u["text"] for u in public["updates"]] == [text]
    none_left = server_cli("incident", "status-page", "publish", incident_id)
    assert "no status-page draft" in none_left.assert_clean_failure()


def test_the_setting_is_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SO1_STATUS_PAGE_APPROVAL", "draft")
    assert load_settings().status_page_approval == "draft"
    monkeypatch.setenv("SO1_STATUS_PAGE_APPROVAL", "later")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert "SO1_STATUS_PAGE_APPROVAL" in str(refused.value)


def test_a_draft_whose_summary_names_the_incident_is_not_published_as_is(
    api: TestClient, anon: TestClient, container: Container
) -> None:
    incident_id = declared_sev1(api)
    (draft,) = notices(api, incident_id)
    leaky = {"text": f"{CUSTOMER} Ref {incident_id}."}
    path = f"/v1/incidents/{incident_id}/status-page/drafts/{draft['id']}"
    assert api.patch(path, json=leaky).status_code == 422
    # a customer summary written after the draft does not change it; one that names the
    # incident and reaches a draft is refused when the draft is published unchanged
    summary = {"customer_summary": leaky["text"]}
    changed = api.patch(f"/v1/incidents/{incident_id}", json=summary)
    assert changed.status_code == 200 and changed.json()["customer_summary"] == leaky["text"]
    with container.uow() as uow:  # as if the summary had been there when it was drafted
        assert draft["id"] is not None
        uow.outbox.update_draft(draft["id"], leaky["text"], {"title": draft["title"]}, False)
        uow.commit()
    refused = api.post(f"/v1/incidents/{incident_id}/status-page/publish", json={})
    assert refused.status_code == 422 and "incident id" in refused.json()["detail"]
    deliver(container)
    assert anon.get("/status.json").json()["incidents"] == []


def test_slack_publishes_a_draft_as_the_person_who_asked(
    api: TestClient, anon: TestClient, container: Container, clock: FixedClock
) -> None:
    from pydantic import SecretStr

    from tests.e2e.test_slack_commands import SECRET, command

    container.settings.slack_signing_secret = SecretStr(SECRET)
    incident_id = declared_sev1(api)
    assert notices(api, incident_id)[0]["status"] == "draft"
    final = "Some customers see slow checkouts. We are adding database capacity."
    said = command(api, clock, f'publish {incident_id} "{final}"')
    assert said["response_type"] == "in_channel" and "published" in said["text"], said
    (notice,) = notices(api, incident_id)
    assert (notice["status"], notice["text"]) == ("pending", final)
    assert notice["published_by"] == "oncall-backend"  # Ana, linked to the Slack user
    deliver(container)
    public = anon.get("/status.json").json()["incidents"]
    assert [u["text"] for i in public for u in i["updates"]] == [final]
    again = command(api, clock, f"publish {incident_id}")
    assert "no status-page draft" in again["text"], again
