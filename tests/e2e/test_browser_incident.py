"""Running an incident from its page in headless Chromium against a real `so1 serve`:
acknowledge, give the commander role, page a team's on-call and raise the severity with a
reason, each checked through the API afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select

from so1.domain.records import AgentName
from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_api_oncall import EXAMPLE as ONCALL_EXAMPLE
from tests.e2e.test_browser import chrome, click, shot, waiter
from tests.e2e.test_processes import clean_env, serving

__all__ = ["chrome"]
pytestmark = pytest.mark.slow


def declared_incident(base: str, auth: dict[str, str]) -> str:
    oncall = yaml.load(ONCALL_EXAMPLE.read_text(), Loader=yaml.BaseLoader)
    assert httpx.put(f"{base}/v1/oncall/config", headers=auth, json=oncall, timeout=30).is_success
    body = {"title": "Checkout errors", "severity": "SEV2", "service": "control-plane-api"}
    made = httpx.post(f"{base}/v1/incidents", headers=auth, json=body, timeout=30).json()
    inputs = {"agent": AgentName.COMMANDER, "inputs": {"incident_id": made["id"]}}
    run = httpx.post(f"{base}/v1/orchestrate", headers=auth, json=inputs, timeout=30)
    assert run.status_code == 200, run.text
    incident_id: str = made["id"]
    return incident_id


def test_run_an_incident_from_its_page(tmp_path: Path, chrome: WebDriver) -> None:
    with serving(tmp_path, clean_env()) as server:
        token = TOKEN_RE.findall(server.output())[0]
        auth = {"Authorization": f"Bearer {token}"}
        incident_id = declared_incident(server.url, auth)

        def api(path: str, **params: str) -> Any:
            return httpx.get(f"{server.url}{path}", headers=auth, params=params, timeout=30).json()

        wait = waiter(chrome, 30)
        chrome.get(f"{server.url}/login")
        wait.until(ready.presence_of_element_located((By.ID, "api_key"))).send_keys(token)
        click(chrome, wait, "form[action='/login'] button")
        chrome.get(f"{server.url}/incidents/{incident_id}")
        assert "Not acknowledged" in chrome.find_element(By.ID, "acknowledgement").text

        click(chrome, wait, f"form[action='/incidents/{incident_id}/acknowledge'] button")
        acknowledged = chrome.find_element(By.ID, "acknowledgement").text
        assert "by bootstrap-admin via web" in acknowledged, acknowledged

        Select(chrome.find_element(By.ID, "role-handle")).select_by_value("bo")
        Select(chrome.find_element(By.ID, "role-name")).select_by_value("commander")
        click(chrome, wait, f"form[action='/incidents/{incident_id}/roles'] button")
        assert "commander: Bo Chen" in chrome.find_element(By.ID, "people").text

        Select(chrome.find_element(By.ID, "page-who")).select_by_value("team:platform-team")
        chrome.find_element(By.ID, "page-reason").send_keys("the database looks saturated")
        click(chrome, wait, f"form[action='/incidents/{incident_id}/page'] button")

        chrome.find_element(By.CSS_SELECTOR, "details summary").click()
        Select(chrome.find_element(By.ID, "new-severity")).select_by_visible_text("SEV1")
        chrome.find_element(By.ID, "reason").send_keys("checkout is down for every customer")
        click(chrome, wait, f"form[action='/incidents/{incident_id}/change'] button")
        assert chrome.find_element(By.CSS_SELECTOR, "h1 .sev").text == "SEV1"
        shot(chrome, "incident-running")

        incident = api(f"/v1/incidents/{incident_id}")
        assert (incident["acknowledged_by"], incident["acknowledged_via"]) == (
            "bootstrap-admin",
            "web",
        )
        assert incident["commander"] == "bo" and incident["severity"] == "SEV1"
        pages = api(f"/v1/incidents/{incident_id}/messages", to="pager")
        assert any(p["text"] == "the database looks saturated" for p in pages), pages
        said = api(f"/v1/incidents/{incident_id}/messages", to="war_room")
        changed = [m for m in said if m["kind"] == "severity_changed"]
        assert len(changed) == 1 and "checkout is down for every customer" in changed[0]["text"]
