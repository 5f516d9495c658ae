"""Reading a service's health answer the way the runbook does, and which URLs can be probed."""

from __future__ import annotations

import json

import pytest

from so1.domain.health import health_url_problem, read_health_answer


@pytest.mark.parametrize(
    ("status", "body", "ok", "detail"),
    [
        (200, {"status": "healthy", "checks": {"database": "ok"}}, True, "200 healthy"),
        (200, {"status": "UP"}, True, "200 UP"),
        (200, {"status": "degraded"}, False, "200 degraded"),
        (
            200,
            {"checks": {"db": {"status": "pass"}, "queue": {"status": "fail"}}},
            False,
            "200: queue=fail",
        ),
        (200, {"checks": {"db": True, "cache": False}}, False, "200: cache=False"),
        (204, None, True, "204"),
        (503, {"status": "healthy"}, False, "503 healthy"),
        (500, None, False, "500"),
    ],
)
def test_health_answers(status: int, body: object, ok: bool, detail: str) -> None:
    raw = b"" if body is None else json.dumps(body).encode()
    reading = read_health_answer(status, raw)
    assert (reading.ok, reading.detail) == (ok, detail)
    assert reading.value == (0.0 if ok else 1.0)


def test_a_body_that_is_not_json_leaves_the_status_code_to_decide() -> None:
    assert read_health_answer(200, b"OK").ok
    assert read_health_answer(200, b"\xff\xfe").ok
    assert not read_health_answer(502, b"<html>Bad gateway</html>").ok


def test_only_http_urls_with_a_host_can_be_probed() -> None:
    assert health_url_problem("http://10.0.0.5:8080/health") is None
    assert health_url_problem("https://api.so1.io/v1/health") is None
    assert "http or https" in (health_url_problem("ftp://x/health") or "")
    assert "no host" in (health_url_problem("http:///health") or "")
    assert "credentials" in (health_url_problem("https://ops:pw@api.internal/health") or "")
