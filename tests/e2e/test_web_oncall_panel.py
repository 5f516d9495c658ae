"""The dashboard's "On call now" panel names the same people as GET /v1/oncall."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from tests.e2e.test_api_oncall import WEDNESDAY, example, load
from tests.e2e.test_web_pages import sign_in

PANEL = re.compile(r'<section aria-labelledby="oncall-h">(.*?)</section>', re.S)
ITEM = re.compile(r"<li><strong>([^<]+)</strong>: (.*?)</li>", re.S)
HANDLE = re.compile(r'data-handle="([^"]+)"')
TUESDAY_EVENING = datetime(2026, 1, 6, 20, 0, tzinfo=UTC)  # platform: the round-the-clock layer


def panel(client: TestClient) -> dict[str, str]:
    """Schedule name -> the panel's text for it, from the signed-in dashboard."""
    page = client.get("/")
    assert page.status_code == 200, page.text
    found = PANEL.search(page.text)
    assert found is not None, page.text
    return dict(ITEM.findall(found.group(1)))


def api_handles(api: TestClient) -> dict[str, str | None]:
    answer = api.get("/v1/oncall")
    assert answer.status_code == 200, answer.text
    return {item["schedule"]: item["now"]["handle"] for item in answer.json()}


@pytest.mark.parametrize("at", [WEDNESDAY, TUESDAY_EVENING])
def test_dashboard_shows_who_the_api_says_is_on_call(
    api: TestClient, container: Container, clock: FixedClock, admin_token: str, at: datetime
) -> None:
    clock.set(at)
    load(api)
    expected = api_handles(api)
    assert set(expected) == {"backend-primary", "backend-secondary", "platform"}
    assert all(expected.values()), expected  # each example schedule has someone now

    shown = panel(sign_in(container, admin_token))
    handles = {name: HANDLE.search(text) for name, text in shown.items()}
    assert {name: m.group(1) if m else None for name, m in handles.items()} == expected
    names = {p["handle"]: p["name"] for p in example()["people"]}
    for schedule, handle in expected.items():
        assert handle is not None
        assert names[handle] in shown[schedule] and f"@{handle}" in shown[schedule]
        assert "nobody" not in shown[schedule]


def test_dashboard_says_nobody_only_when_nobody_covers(
    api: TestClient, container: Container, clock: FixedClock, admin_token: str
) -> None:
    clock.set(datetime(2025, 12, 1, 12, 0, tzinfo=UTC))  # before every rotation starts
    load(api)
    assert set(api_handles(api).values()) == {None}
    shown = panel(sign_in(container, admin_token))
    assert set(shown) == {"backend-primary", "backend-secondary", "platform"}
    assert all("nobody" in text and "data-handle" not in text for text in shown.values())
