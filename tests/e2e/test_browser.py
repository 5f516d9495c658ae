"""The web pages in a real headless Chromium (Debian's chromium and chromium-driver) against
a real `so1 serve`: sign in, see an incident on the dashboard, open it, post to the war room.
With SO1_SCREENSHOTS=<dir> (`make screenshots`) the pages are saved as PNG files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.contract.railway_server import ENVIRONMENT, PROJECT, TOKEN, railway_server
from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_api_oncall import EXAMPLE as ONCALL_EXAMPLE
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


def waiter(driver: WebDriver, seconds: float) -> WebDriverWait:  # type: ignore[type-arg]
    """Waits that retry while live updates (server-sent events) swap parts of the page: an
    element found a moment ago may be gone from the document."""
    return WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,))


def text_of(wait: WebDriverWait, element_id: str, expected: str) -> None:  # type: ignore[type-arg]
    wait.until(lambda d: expected in d.find_element(By.ID, element_id).text)


def open_link(driver: WebDriver, wait: WebDriverWait, css: str) -> str:  # type: ignore[type-arg]
    """Follow a link that live updates may replace: read its address, then go there."""
    href: str = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute("href"))
    driver.get(href)
    return href


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
        wait = waiter(chrome, 30)

        chrome.get(f"{server.url}/")
        wait.until(ready.presence_of_element_located((By.ID, "api_key")))
        shot(chrome, "login")
        chrome.find_element(By.ID, "api_key").send_keys(token)
        click(chrome, wait, "form[action='/login'] button")
        text_of(wait, "incidents-wrap", "API error rate spike")
        shot(chrome, "dashboard")

        open_link(chrome, wait, f"a[href='/incidents/{made['id']}']")
        box = wait.until(ready.presence_of_element_located((By.ID, "text")))
        assert made["id"] in chrome.title
        box.send_keys("Pool at 100%: raising DATABASE_POOL_SIZE to 50")
        click(chrome, wait, "#war-room form button")
        wait.until(
            ready.text_to_be_present_in_element(
                (By.ID, "war-room"), "raising DATABASE_POOL_SIZE to 50"
            )
        )
        shot(chrome, "incident")

        said = httpx.get(f"{server.url}/v1/incidents/{made['id']}/messages", headers=auth).json()
        assert said[-1]["text"] == "Pool at 100%: raising DATABASE_POOL_SIZE to 50"
        assert said[-1]["target"] == "bootstrap-admin"  # posted as the signed-in key

        oncall = yaml.load(ONCALL_EXAMPLE.read_text(), Loader=yaml.BaseLoader)
        loaded = httpx.put(f"{server.url}/v1/oncall/config", headers=auth, json=oncall, timeout=30)
        assert loaded.status_code == 200, loaded.text
        chrome.get(f"{server.url}/oncall")
        today = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "td.today")))
        assert today.get_attribute("aria-current") == "date" and "@" in today.text
        shot(chrome, "oncall")


def test_an_incident_appears_live_and_its_timeline_grows(tmp_path: Path, chrome: WebDriver) -> None:
    with serving(tmp_path, clean_env()) as server:
        token = TOKEN_RE.findall(server.output())[0]
        auth = {"Authorization": f"Bearer {token}"}
        wait = waiter(chrome, 30)
        chrome.get(f"{server.url}/login")
        chrome.find_element(By.ID, "api_key").send_keys(token)
        click(chrome, wait, "form[action='/login'] button")
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
        text_of(wait, "incidents-wrap", "INC-")
        incident_id = open_link(chrome, wait, "#incidents-wrap a").rsplit("/", 1)[1]
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


def on_railway(railway_url: str, **settings: str) -> dict[str, str]:
    """A `so1 serve` environment whose platform is the local Railway-speaking server."""
    return clean_env(
        SO1_PLATFORM="railway",
        SO1_RAILWAY_TOKEN=TOKEN,
        SO1_RAILWAY_API_URL=railway_url,
        SO1_RAILWAY_PROJECT_ID=PROJECT,
        SO1_RAILWAY_ENVIRONMENT_ID=ENVIRONMENT,
        SO1_RAILWAY_SERVICES='{"control-plane-api": "svc-cpa"}',
        **settings,
    )


def click(driver: WebDriver, wait: WebDriverWait, css: str) -> None:  # type: ignore[type-arg]
    """Click a submit button and wait for the page it leads to: the old document carries a
    mark that the new one does not (staleness checks race with Chromium here)."""
    driver.execute_script("window.so1OldPage = true")
    driver.find_element(By.CSS_SELECTOR, css).click()
    wait.until(lambda d: d.execute_script("return window.so1OldPage === undefined"))


def test_the_worked_example_by_clicking(tmp_path: Path, chrome: WebDriver) -> None:
    """Declare, follow the clocks, run the pool-size change, watch the gates pass and the
    incident resolve, then review and publish the postmortem: all from the pages."""
    with railway_server() as (railway_url, state):
        state.add("svc-cpa", commit="a1")
        env = on_railway(
            railway_url,
            SO1_CLOCK_SECONDS="1",
            SO1_STABILITY_MINUTES="0.1",
            SO1_POSTMORTEM_DIR=str(tmp_path / "content"),
        )
        with serving(tmp_path, env) as server:
            token = TOKEN_RE.findall(server.output())[0]
            auth = {"Authorization": f"Bearer {token}"}
            wait = waiter(chrome, 60)
            chrome.get(f"{server.url}/login")
            chrome.find_element(By.ID, "api_key").send_keys(token)
            click(chrome, wait, "form[action='/login'] button")

            chrome.find_element(By.CSS_SELECTOR, "details summary").click()
            chrome.find_element(By.ID, "title").send_keys("API error rate spike")
            chrome.find_element(By.ID, "service").send_keys("control-plane-api")
            click(chrome, wait, "form[action='/incidents'] button")
            wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "Runbook checks"))
            incident_id = chrome.title.split(" ")[0]
            push(server.url, auth, 12.0, 320.0)  # the error rate before the change

            chrome.find_element(By.ID, "variable").send_keys("DATABASE_POOL_SIZE=50")
            click(chrome, wait, "#platform-form button")
            wait.until(lambda d: state.variables.get("svc-cpa") == {"DATABASE_POOL_SIZE": "50"})
            for _ in range(8):  # the error rate after it
                push(server.url, auth, 0.3, 180.0)
                time.sleep(1)
            chrome.get(f"{server.url}/incidents/{incident_id}")
            wait.until(
                lambda d: (
                    "resolved" in status_of(server.url, auth, incident_id)
                    or bool(push(server.url, auth, 0.3, 180.0))
                )
            )
            chrome.get(f"{server.url}/incidents/{incident_id}")
            assert "verification stable" in chrome.find_element(By.ID, "timeline").text
            shot(chrome, "resolved")

            wait.until(
                lambda d: (
                    httpx.get(
                        f"{server.url}/v1/incidents/{incident_id}/postmortem", headers=auth
                    ).status_code
                    == 200
                )
            )
            chrome.get(f"{server.url}/incidents/{incident_id}/postmortem")
            click(chrome, wait, "form[action$='/postmortem/submit'] button")
            for check in ("timeline_accurate", "root_cause_validated", "action_items_complete"):
                click(chrome, wait, f"form[action$='/postmortem/{check}'] button")
                tick_as_a_second_reader(server.url, auth, incident_id, check)
            click(chrome, wait, "#publish")
            assert chrome.find_element(By.ID, "pm-status").text == "published"
            shot(chrome, "postmortem")
    assert list((tmp_path / "content" / "postmortems").glob("*-api-error-rate-spike.md"))


def tick_as_a_second_reader(base: str, auth: dict[str, str], incident_id: str, check: str) -> None:
    """The runbook's review needs someone other than the author and the publisher."""
    added = httpx.post(
        f"{base}/v1/people", json={"handle": "reviewer", "role": "responder"}, headers=auth
    )
    assert added.status_code in (201, 409), added.text  # one reviewer for the three checks
    made = httpx.post(
        f"{base}/v1/keys",
        json={"name": f"reviewer-{check}", "scopes": ["write"], "person": "reviewer"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    second = {"Authorization": f"Bearer {made.json()['token']}"}
    url = f"{base}/v1/incidents/{incident_id}/postmortem/checks/{check}"
    assert httpx.post(url, headers=second).status_code == 200


def push(base: str, auth: dict[str, str], error_rate: float, p99: float) -> bool:
    samples = [
        {"service": "control-plane-api", "metric": "error_rate", "value": error_rate},
        {"service": "control-plane-api", "metric": "latency_p99_ms", "value": p99},
    ]
    httpx.post(f"{base}/v1/metrics", json={"samples": samples}, headers=auth, timeout=10)
    return False


def status_of(base: str, auth: dict[str, str], incident_id: str) -> str:
    found: str = httpx.get(f"{base}/v1/incidents/{incident_id}", headers=auth).json()["status"]
    return found


def test_someone_else_approves_a_sev1_rollback_by_clicking(
    tmp_path: Path, chrome: WebDriver
) -> None:
    """A medium-risk action during a SEV1 waits for a second person: one key requests the
    rollback on the incident page, another signs in and clicks Approve."""
    with railway_server() as (railway_url, state):
        state.add("svc-cpa", commit="a1")
        state.add("svc-cpa", commit="b2")
        env = on_railway(railway_url)
        with serving(tmp_path, env) as server:
            admin = TOKEN_RE.findall(server.output())[0]
            auth = {"Authorization": f"Bearer {admin}"}
            lead = (
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "so1",
                        "keys",
                        "create",
                        "--name",
                        "lead",
                        "--scopes",
                        "read,write,deploy",  # the pages need read
                    ],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            made = httpx.post(
                f"{server.url}/v1/incidents",
                headers=auth,
                json={
                    "title": "Everything returns 500",
                    "severity": "SEV1",
                    "service": "control-plane-api",
                    "status": "investigating",
                },
            ).json()
            wait = waiter(chrome, 30)

            def sign_in(token: str) -> None:
                chrome.get(f"{server.url}/login")
                chrome.find_element(By.ID, "api_key").send_keys(token)
                click(chrome, wait, "form[action='/login'] button")

            sign_in(admin)
            chrome.get(f"{server.url}/incidents/{made['id']}")
            Select(chrome.find_element(By.ID, "action")).select_by_value("rollback")
            click(chrome, wait, "#platform-form button")
            wait.until(
                ready.text_to_be_present_in_element((By.ID, "mitigations"), "awaiting approval")
            )
            click(chrome, wait, "form[action='/logout'] button")

            sign_in(lead)
            chrome.get(f"{server.url}/incidents/{made['id']}")
            click(chrome, wait, "form[action$='/approve'] button")
            wait.until(lambda d: any(n == "deploymentRollback" for n, _ in state.calls))
            chrome.get(f"{server.url}/incidents/{made['id']}")
            wait.until(ready.text_to_be_present_in_element((By.ID, "mitigations"), "completed"))
            assert "Undo (rollback)" in chrome.find_element(By.ID, "mitigations").text
