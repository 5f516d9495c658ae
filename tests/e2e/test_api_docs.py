"""`/docs` and `/redoc` work offline: every asset comes from the server itself (the
fastapi-offline package), and Swagger UI renders the API in a browser with no network."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.test_browser import chrome, waiter

__all__ = ["chrome"]

REFERENCE = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", re.I)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_no_other_host(anon: TestClient, page: str) -> None:
    html = anon.get(page)
    assert html.status_code == 200
    assert "http://" not in html.text and "https://" not in html.text
    references = REFERENCE.findall(html.text)
    assert "/openapi.json" in references
    assert any(r.endswith(".js") for r in references)
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc, reference
        assert anon.get(reference).status_code == 200, reference
    assert '"validatorUrl": null' in html.text or page == "/redoc"  # no badge from elsewhere


@pytest.mark.slow
def test_swagger_ui_renders_the_api_without_a_network(live_server: str, chrome: WebDriver) -> None:
    chrome.get(f"{live_server}/docs")
    wait = waiter(chrome, 30)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/v1/incidents" in {p.replace("\u200b", "") for p in paths}
    loaded = chrome.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(str(url).startswith(live_server) for url in loaded), loaded
