"""The express lane for `POST /v1/alerts` (entrypoints/api/express.py): taken only when the
middleware it skips would have let the request through unchanged, and answering what the
whole stack answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.entrypoints.api import express, lean_intake
from so1.entrypoints.api.app import create_app
from so1.entrypoints.api.express import ExpressAlerts
from so1.errors import Unavailable
from so1.services.access.keys import KeyCache
from tests.conftest import make_key
from tests.e2e.test_lean_intake import ALERT

SECURITY_HEADERS = ("x-content-type-options", "referrer-policy", "x-frame-options")


def _is_lane(middleware: Any) -> bool:
    return bool(middleware.cls is ExpressAlerts)


class Recorder:
    """Stands in for the access log's writer: keeps each entry."""

    def __init__(self) -> None:
        self.entries: list[Any] = []

    def record(self, entry: Any) -> None:
        self.entries.append(entry)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(
    container: Container, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The app with the verified-key cache on (as served; the tests' container has it off)."""
    monkeypatch.setattr(container.edge, "key_cache", KeyCache(60))
    app = create_app(container)
    lane = next(m for m in app.user_middleware if _is_lane(m))
    lane.kwargs["access_log"] = recorder  # the stack is built on the first request
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def lean_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per request the lean route (inside the stack) answered."""
    calls: list[int] = []
    real = lean_intake.LeanAlerts.__call__

    async def counted(self: Any, scope: Any, receive: Any, send: Any) -> None:
        calls.append(1)
        await real(self, scope, receive, send)

    monkeypatch.setattr(lean_intake.LeanAlerts, "__call__", counted)
    return calls


@pytest.fixture
def writer(container: Container, client: TestClient) -> dict[str, str]:
    """A write key the verified-key cache vouches for (its first use went the whole way)."""
    headers = {"Authorization": f"Bearer {make_key(container, Scope.WRITE, name='writer')}"}
    warm = client.post("/v1/alerts", json={**ALERT, "dedup_key": "warm"}, headers=headers)
    assert warm.status_code == 202
    return headers


def test_a_cached_key_takes_the_lane_and_gets_the_stacks_answer(
    client: TestClient, writer: dict[str, str], lean_calls: list[int], recorder: Recorder
) -> None:
    whole_way = client.post("/v1/alerts", json={**ALERT, "dedup_key": "other"}, headers=writer)
    assert whole_way.status_code == 202  # not yet counted: the fixture's request warmed the key
    lean_calls.clear()
    first = client.post("/v1/alerts", json=ALERT, headers=writer)
    again = client.post("/v1/alerts", json=ALERT, headers=writer)
    assert lean_calls == []  # neither reached the route inside the stack
    assert (first.status_code, again.status_code) == (202, 202)
    assert (first.json()["outcome"], again.json()["outcome"]) == ("created", "duplicate")
    assert first.json().keys() == whole_way.json().keys()
    assert again.json()["dedup_count"] == 2
    for name in (*SECURITY_HEADERS, "content-security-policy", "content-type"):
        assert first.headers[name] == whole_way.headers[name], name
    assert [e[1:] for e in recorder.entries[-2:]] == [("POST", b"/v1/alerts", b"", "1.1", 202)] * 2


@pytest.fixture
def lane_takes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per request the express lane stored."""
    takes: list[int] = []
    real = lean_intake.accept_alert

    async def counted(*args: Any) -> Any:
        takes.append(1)
        return await real(*args)

    monkeypatch.setattr(express, "accept_alert", counted)
    return takes


@pytest.fixture
def no_lane(container: Container, client: TestClient) -> Iterator[TestClient]:
    """The same app without the express lane: what the whole stack answers."""
    app = create_app(container)
    app.user_middleware[:] = [m for m in app.user_middleware if not _is_lane(m)]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


NOT_TAKEN: dict[str, tuple[dict[str, str], bytes]] = {
    "Idempotency-Key": ({"Idempotency-Key": "k-1"}, b""),
    "text/plain": ({"Content-Type": "text/plain"}, b'{"a": 1}'),
    "form label": ({"Content-Type": "application/x-www-form-urlencoded"}, b""),
    "an unknown field": ({}, b'{"colour": "red"}'),
    "not JSON": ({}, b'{"event_action":'),
    "a list": ({}, b"[1]"),
    "declared over the cap": ({"Content-Length": "99999999"}, b"{}"),
}


@pytest.mark.parametrize("case", NOT_TAKEN)
def test_what_the_lane_must_not_take_goes_the_whole_way(
    client: TestClient,
    no_lane: TestClient,
    writer: dict[str, str],
    lane_takes: list[int],
    case: str,
) -> None:
    extra, body = NOT_TAKEN[case]
    headers = {"Content-Type": "application/json", **writer, **extra}
    sent = body or json.dumps({**ALERT, "dedup_key": case}).encode()
    answers = [c.post("/v1/alerts", content=sent, headers=headers) for c in (client, no_lane)]
    assert lane_takes == [], case
    assert answers[0].status_code == answers[1].status_code, case
    if "Idempotency-Key" in extra:  # the replay: the second answer is the first one's
        assert answers[1].headers["idempotent-replayed"] == "true"
        assert answers[0].json() == answers[1].json()
    elif answers[0].status_code == 202:  # JSON labelled as a form is read as JSON
        assert [a.json()["outcome"] for a in answers] == ["created", "duplicate"]
    else:
        assert 400 <= answers[0].status_code < 500, case
        assert answers[0].json() == answers[1].json(), case


def test_a_key_without_write_goes_the_whole_way_and_is_audited(
    client: TestClient, container: Container, lean_calls: list[int]
) -> None:
    reader = {"Authorization": f"Bearer {make_key(container, Scope.READ, name='reader')}"}
    assert client.get("/v1/alerts", headers=reader).status_code == 200  # now in the cache
    refused = client.post("/v1/alerts", json=ALERT, headers=reader)
    assert refused.status_code == 403 and lean_calls == [1]
    admin = {"Authorization": f"Bearer {make_key(container, Scope.ADMIN)}"}
    denied = client.get("/v1/audit?action=auth.forbidden", headers=admin).json()
    assert [d["detail"]["request"] for d in denied] == ["POST /v1/alerts"]


def test_a_chunked_body_over_the_cap_is_413(
    client: TestClient, container: Container, writer: dict[str, str], lean_calls: list[int]
) -> None:
    half = container.settings.max_body_bytes // 2 + 10

    def chunks() -> Iterator[bytes]:
        yield b"{" + b" " * half
        yield b" " * half + b"}"

    response = client.post("/v1/alerts", content=chunks(), headers=writer)
    assert response.status_code == 413
    assert response.json()["title"] == "Payload too large"
    assert lean_calls == []  # refused by the body cap, before any route


def test_a_store_that_fails_answers_the_stacks_problem(
    client: TestClient,
    writer: dict[str, str],
    lean_calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    async def unavailable(*_: Any) -> Any:
        raise Unavailable("the intake writer stopped; retry shortly")

    monkeypatch.setattr(lean_intake, "store", unavailable)
    express = client.post("/v1/alerts", json=ALERT, headers=writer)
    assert lean_calls == []
    assert express.status_code == 503
    assert express.headers["content-type"] == "application/problem+json"
    assert express.json()["detail"] == "the intake writer stopped; retry shortly"
    for name in (*SECURITY_HEADERS, "content-security-policy", "content-type"):
        assert len(express.headers.get_list(name)) == 1, name
    assert recorder.entries[-1][-1] == 503
    stack = client.post("/v1/alerts", json=ALERT, headers={**writer, "Idempotency-Key": "x"})
    assert lean_calls == [1]
    assert (stack.status_code, stack.json()) == (express.status_code, express.json())


def test_an_unexpected_error_is_the_500_the_outer_middleware_gives(
    client: TestClient, writer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(lean_intake, "store", broken)
    express = client.post("/v1/alerts", json=ALERT, headers=writer)
    stack = client.post("/v1/alerts", json=ALERT, headers={**writer, "Idempotency-Key": "y"})
    assert express.status_code == stack.status_code == 500
    assert express.json() == stack.json()
