"""A per-key token bucket (events per minute), kept in the process.

With several server processes each keeps its own bucket, so the effective limit is the
configured one times the number of processes; it protects the database from one noisy
sender rather than metering exactly.
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, max_keys: int = 10_000) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self._capacity, moment))
            tokens = min(self._capacity, tokens + (moment - last) * self._rate)
            allowed = tokens >= 1.0
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory; forgetting buckets only loosens limits
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, moment)
            return allowed
