"""Recently verified credentials' records, trusted for a few seconds without a database read:
API keys (services/access/keys.py) and the integrations behind webhook secrets
(services/intake/integrations.py).

A change made through this process clears what it changes at once; one made by another
process applies here after at most ``ttl_seconds`` (``SO1_AUTH_CACHE_SECONDS``; 0 turns the
cache off)."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

V = TypeVar("V")


class VerifiedCache(Generic[V]):
    """Records by name, each trusted ``ttl_seconds`` after it was put; at ``max_entries`` the
    cache starts afresh (entries are cheap to read again, unbounded growth is not)."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> V | None:
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or time.monotonic() - entry[1] > self._ttl:
            return None
        return entry[0]

    def put(self, name: str, value: V) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[name] = (value, time.monotonic())

    def forget(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
