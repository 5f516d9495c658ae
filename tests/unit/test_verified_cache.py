"""The cache of verified records behind API keys and webhook integrations."""

from __future__ import annotations

import time

import pytest

from so1.services.verified_cache import VerifiedCache


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def test_an_entry_is_trusted_for_the_ttl_only(clock: FakeMonotonic) -> None:
    cache: VerifiedCache[str] = VerifiedCache(5)
    cache.put("a", "record")
    clock.now += 5
    assert cache.get("a") == "record"
    clock.now += 0.1
    assert cache.get("a") is None


def test_a_ttl_of_zero_keeps_nothing(clock: FakeMonotonic) -> None:
    cache: VerifiedCache[str] = VerifiedCache(0)
    cache.put("a", "record")
    assert cache.get("a") is None


def test_forget_and_clear(clock: FakeMonotonic) -> None:
    cache: VerifiedCache[int] = VerifiedCache(60)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.forget("a")
    cache.forget("missing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert cache.get("b") is None


def test_a_full_cache_starts_afresh(clock: FakeMonotonic) -> None:
    cache: VerifiedCache[int] = VerifiedCache(60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, 3)
