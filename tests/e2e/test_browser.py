"""The web pages in a real headless Chromium (Debian's chromium and chromium-driver) against
a real `so1 serve`: sign in, see an incident on the dashboard, open it, post to the war room.
With SO1_SCREENSHOTS=<dir> (`make screenshots`) the pages are saved as PNG files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_processes import clean_env, serving

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def chrome() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Debian's chromium and chromium-driver are not installed (./scripts/test)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("SO1_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def test_sign_in_see_the_incident_and_post_in_the_war_room(
    tmp_path: Path, chrome: WebDriver
) -> None:
    with serving(tmp_path, clean_env()) as server:
        token = TOKEN_RE.findall(server.output())[0]
        auth = {"Authorization": f"Bearer {token}"}
        made = httpx.post(
            f"{server.url}/v1/incidents",
            headers=auth,
            timeout=30,
            json={
                "title": "API error rate spike",
                "severity": "SEV2",
                "service": "control-plane-api",
                "status": "investigating",
            },
        ).json()
        wait = WebDriverWait(chrome, 30)

        chrome.get(f"{server.url}/")
        wait.until(ready.presence_of_element_located((By.ID, "api_key")))
        shot(chrome, "login")
        chrome.find_element(By.ID, "api_key").send_keys(token)
        button = chrome.find_element(By.CSS_SELECTOR, "form[action='/login'] button")
        button.click()
        wait.until(ready.staleness_of(button))
        link = wait.until(ready.element_to_be_clickable((By.LINK_TEXT, made["id"])))
        assert "API error rate spike" in chrome.find_element(By.ID, "incidents").text
        shot(chrome, "dashboard")

        link.click()
        wait.until(ready.staleness_of(link))
        box = wait.until(ready.presence_of_element_located((By.ID, "text")))
        assert made["id"] in chrome.title
        box.send_keys("Pool at 100%: raising DATABASE_POOL_SIZE to 50")
        chrome.find_element(By.CSS_SELECTOR, "#war-room form button").click()
        wait.until(ready.staleness_of(box))  # the post redirects to a new page
        wait.until(
            ready.text_to_be_present_in_element(
                (By.ID, "war-room"), "raising DATABASE_POOL_SIZE to 50"
            )
        )
        shot(chrome, "incident")

        said = httpx.get(f"{server.url}/v1/incidents/{made['id']}/messages", headers=auth).json()
        assert said[-1]["text"] == "Pool at 100%: raising DATABASE_POOL_SIZE to 50"
        assert said[-1]["target"] == "bootstrap-admin"  # posted as the signed-in key


def test_an_incident_appears_live_and_its_timeline_grows(tmp_path: Path, chrome: WebDriver) -> None:
    with serving(tmp_path, clean_env()) as server:
        token = TOKEN_RE.findall(server.output())[0]
        auth = {"Authorization": f"Bearer {token}"}
        wait = WebDriverWait(chrome, 30)
        chrome.get(f"{server.url}/login")
        chrome.find_element(By.ID, "api_key").send_keys(token)
        button = chrome.find_element(By.CSS_SELECTOR, "form[action='/login'] button")
        button.click()
        wait.until(ready.staleness_of(button))
        wait.until(ready.presence_of_element_located((By.ID, "incidents-wrap")))
        assert "No open incidents" in chrome.find_element(By.ID, "incidents-wrap").text

        alert = {
            "event_action": "trigger",
            "source": "datadog",
            "service": "checkout",
            "metric": "error_rate",
            "current_value": "45%",
            "threshold": "< 1%",
            "summary": "Checkout error rate 45%: all payments failing",
        }
        assert httpx.post(f"{server.url}/v1/alerts", json=alert, headers=auth).status_code == 202
        wait.until(ready.text_to_be_present_in_element((By.ID, "incidents-wrap"), "INC-"))
        link = chrome.find_element(By.CSS_SELECTOR, "#incidents-wrap a")
        incident_id = link.text
        link.click()
        wait.until(ready.staleness_of(link))
        wait.until(ready.presence_of_element_located((By.ID, "timeline")))
        said = {"text": "Payments provider confirms an outage on their side"}
        posted = httpx.post(
            f"{server.url}/v1/incidents/{incident_id}/messages", json=said, headers=auth
        )
        assert posted.status_code == 201, posted.text
        wait.until(
            ready.text_to_be_present_in_element((By.ID, "timeline"), "Payments provider confirms")
        )
        wait.until(
            ready.text_to_be_present_in_element(
                (By.ID, "war-room-messages"), "Payments provider confirms"
            )
        )
