"""The HTTP health probe against a real health endpoint on loopback: the seed's healthy
answer, a failing check, a 503, a slow answer, a refused connection."""

from __future__ import annotations

import socket

from so1.adapters.platform.health_probe import HttpHealthProbe
from so1.domain.outbound import OutboundPolicy
from tests.contract.health_server import health_server

LOOPBACK = OutboundPolicy.parse("127.0.0.1/32")  # the test's health server is on loopback


def test_the_seed_answer_passes_and_failures_say_why() -> None:
    probe = HttpHealthProbe(timeout=0.5, policy=LOOPBACK)
    with health_server() as (url, answer):
        healthy = probe.check(url)
        assert (healthy.ok, healthy.detail, healthy.value) == (True, "200 healthy", 0.0)

        answer.body = {"status": "healthy", "checks": {"database": "ok", "cache": "down"}}
        degraded = probe.check(url)
        assert (degraded.ok, degraded.detail) == (False, "200 healthy: cache=down")

        answer.status, answer.body = 503, {"status": "unhealthy"}
        assert probe.check(url).detail == "503 unhealthy"

        answer.status, answer.body = 200, b"OK"  # a plain-text health check
        assert probe.check(url).ok

        answer.delay = 1.0
        slow = probe.check(url)
        assert (slow.ok, slow.detail) == (False, "no answer within 0.5 s")
        assert answer.requests == 5


def test_a_refused_connection_is_a_failing_reading() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    reading = HttpHealthProbe(timeout=1.0, policy=LOOPBACK).check(f"http://127.0.0.1:{port}/health")
    assert not reading.ok and reading.detail.startswith("cannot connect")
