"""The list pages in headless Chromium against a real `so1 serve`: a flag made from its form
and its history, alerts filtered, opened and acknowledged, an on-call override, and the page
a browser gets for an address that has none."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_api_oncall import EXAMPLE as ONCALL_EXAMPLE
from tests.e2e.test_browser import chrome, click, waiter
from tests.e2e.test_processes import clean_env, serving

__all__ = ["chrome"]
pytestmark = pytest.mark.slow


def test_flags_alerts_oncall_and_errors_by_clicking(tmp_path: Path, chrome: WebDriver) -> None:
    with serving(tmp_path, clean_env()) as server:
        token = TOKEN_RE.findall(server.output())[0]
        auth = {"Authorization": f"Bearer {token}"}
        for service in ("checkout", "billing"):
            alert = {"event_action": "trigger", "source": "grafana", "service": service}
            alert["summary"] = f"{service} slow"
            assert httpx.post(f"{server.url}/v1/alerts", json=alert, headers=auth).is_success
        oncall = yaml.load(ONCALL_EXAMPLE.read_text(), Loader=yaml.BaseLoader)
        httpx.put(f"{server.url}/v1/oncall/config", headers=auth, json=oncall, timeout=30)
        wait = waiter(chrome, 30)
        chrome.get(f"{server.url}/login")
        wait.until(ready.presence_of_element_located((By.ID, "api_key"))).send_keys(token)
        click(chrome, wait, "form[action='/login'] button")
        wait.until(ready.url_to_be(f"{server.url}/"))

        chrome.get(f"{server.url}/flags")
        chrome.find_element(By.ID, "new-key").send_keys("bulk-execution")
        chrome.find_element(By.ID, "new-reason").send_keys("new job runner")
        click(chrome, wait, "form[action='/flags/create'] button")
        wait.until(ready.url_to_be(f"{server.url}/flags/bulk-execution"))
        assert "new job runner" in chrome.find_element(By.TAG_NAME, "table").text

        chrome.get(f"{server.url}/alerts")
        chrome.find_element(By.ID, "f-service").send_keys("billing")
        click(chrome, wait, "form.filters button")
        wait.until(lambda d: "service=billing" in d.current_url)
        rows = chrome.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [r.text.split()[0] for r in rows] == ["billing"]
        click(chrome, wait, "tbody a[href^='/alerts/alt_']")
        click(chrome, wait, "form[action='/alerts/acknowledge'] button")
        wait.until(lambda d: "acknowledged" in d.find_element(By.CSS_SELECTOR, "dl.facts").text)

        chrome.get(f"{server.url}/oncall")
        chrome.find_element(By.CSS_SELECTOR, "details summary").click()
        Select(chrome.find_element(By.ID, "o-handle-1")).select_by_value("cy")
        for field, value in (("o-start-1", "2031-01-08T09:00"), ("o-end-1", "2031-01-08T17:00")):
            chrome.execute_script(
                "document.getElementById(arguments[0]).value = arguments[1]", field, value
            )
        click(chrome, wait, "form[action='/oncall/override'] button")
        wait.until(ready.url_to_be(f"{server.url}/oncall"))
        overrides = httpx.get(
            f"{server.url}/v1/schedules/backend-primary/shifts",
            params={"start": "2031-01-08T00:00:00Z", "end": "2031-01-09T00:00:00Z"},
            headers=auth,
        ).json()
        assert any(s["handle"] == "cy" and s.get("via") == "override" for s in overrides)

        chrome.get(f"{server.url}/no-such-page")
        assert chrome.find_element(By.TAG_NAME, "h1").text == "Not here"
