"""Outbound requests that cannot reach inside (SSRF): a service's health_url is refused when
saved if it leads to loopback, link-local (cloud metadata), private, multicast or unspecified
addresses, and every connection the probe opens is checked again (DNS rebinding, redirects).
Only pass/fail and the status code reach the timeline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from so1.adapters.outbound import GuardedTransport, UrlChecker, refused_by
from so1.adapters.platform.health_probe import HttpHealthProbe
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.outbound import OutboundPolicy
from so1.errors import ConfigurationError
from tests.contract.health_server import health_server

PUBLIC = OutboundPolicy()
LOOPBACK = OutboundPolicy.parse("127.0.0.1/32")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.169.254",
        "fe80::1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",
        "fc00::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 carrying 127.0.0.1
    ],
)
def test_inside_addresses_are_refused(address: str) -> None:
    reason = PUBLIC.refusal("svc.example", [address])
    assert reason is not None and "SO1_OUTBOUND_ALLOW" in reason


def test_public_addresses_and_allowed_ones_pass() -> None:
    assert PUBLIC.refusal("example.com", ["93.184.216.34", "2606:4700:4700::1111"]) is None
    assert PUBLIC.refusal("mixed.example", ["93.184.216.34", "10.1.2.3"]) is not None
    assert LOOPBACK.refusal("local", ["127.0.0.1"]) is None
    assert LOOPBACK.refusal("local", ["::ffff:127.0.0.1"]) is None  # the same address
    assert LOOPBACK.refusal("local", ["127.0.0.2"]) is not None
    by_name = OutboundPolicy.parse("health.internal")
    assert by_name.refusal("Health.Internal", ["10.0.0.1"]) is None
    assert PUBLIC.refusal("nowhere.example", []) is not None


def test_a_bad_allow_list_stops_the_start_naming_the_setting(db_url: str) -> None:
    with pytest.raises(ConfigurationError, match="SO1_OUTBOUND_ALLOW: 'no way/8'"):
        build_container(Settings(database_url=db_url, outbound_allow="10.0.0.0/8, no way/8"))


def test_health_url_inside_is_refused_when_saved(api: TestClient, container: Container) -> None:
    for url in (
        "http://127.0.0.1:8080/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/health",
        "http://[::ffff:127.0.0.1]/health",
        "http://localhost:22/",
    ):
        answer = api.put("/v1/services/api", json={"tier": "high", "health_url": url})
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["errors"][0]["field"] == "health_url", answer.text
    # what SO1_OUTBOUND_ALLOW=127.0.0.1/32 builds
    container.adapters.url_guard = UrlChecker(LOOPBACK)
    allowed = api.put(
        "/v1/services/api", json={"tier": "high", "health_url": "http://127.0.0.1:8080/health"}
    )
    assert allowed.status_code == 201, allowed.text


def test_the_probe_refuses_inside_without_connecting() -> None:
    with health_server() as (url, answer):
        reading = HttpHealthProbe(timeout=1.0).check(url)  # the default: public only
        assert not reading.ok and reading.status_code is None
        assert reading.outcome == "refused by the outbound policy"
        assert answer.requests == 0
        assert HttpHealthProbe(timeout=1.0, policy=LOOPBACK).check(url).ok


def test_dns_rebinding_is_refused_at_request_time() -> None:
    """Public when saved, loopback when asked: the connection is refused, and an allowed
    answer connects to exactly the address that was checked."""
    answers = {"svc.example": ["93.184.216.34"]}

    def resolver(host: str, port: int) -> list[str]:
        return answers.get(host, [])

    with health_server() as (url, served):
        port = url.split(":")[2].split("/")[0]
        named = f"http://svc.example:{port}/v1/health"
        assert UrlChecker(PUBLIC, resolver).refusal(named) is None  # saved: public
        answers["svc.example"] = ["127.0.0.1"]  # rebound
        guarded = httpx.Client(transport=GuardedTransport(PUBLIC, resolver))
        with pytest.raises(httpx.ConnectError) as refused:
            guarded.get(named)
        assert "127.0.0.1, a loopback address" in (refused_by(refused.value) or "")
        assert served.requests == 0
        allowed = httpx.Client(transport=GuardedTransport(LOOPBACK, resolver))
        assert allowed.get(named).status_code == 200 and served.requests == 1


@contextmanager
def redirecting_server(target: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_never_leads_inside() -> None:
    with redirecting_server("http://169.254.169.254/latest/meta-data/") as url:
        reading = HttpHealthProbe(timeout=1.0, policy=LOOPBACK).check(url)
        assert not reading.ok and reading.outcome == "HTTP 302"  # not followed
        following = httpx.Client(transport=GuardedTransport(LOOPBACK), follow_redirects=True)
        with pytest.raises(httpx.ConnectError) as refused:
            following.get(url)  # even a client that follows is stopped at the connection
        assert "169.254.169.254, a link-local address" in (refused_by(refused.value) or "")
