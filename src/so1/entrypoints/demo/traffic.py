"""Load on the sample service and what a monitoring agent would do with it: closed-loop
clients, and a collector that turns their results and the service's pool statistics into
metric samples and alerts sent to SO1 (as Datadog would)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

WINDOW_SECONDS = 3.0
REQUEST_SECONDS = 2.0  # a client's budget for one request, retries included
RETRY_PAUSE = 0.05
HISTORY = 3600
MAX_UNSENT = 4000  # samples kept for SO1 while it does not answer (under its 5,000 a request)
ALERT_AFTER_TICKS = 3  # over the threshold this many seconds in a row
RESOLVE_AFTER_TICKS = 10


class Traffic:
    """``clients`` threads, each sending the next request as soon as the last one answered."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._threads: list[tuple[threading.Thread, threading.Event]] = []
        self._results: deque[tuple[float, bool, float]] = deque(maxlen=50_000)
        self._lock = threading.Lock()

    @property
    def clients(self) -> int:
        return len(self._threads)

    def set_clients(self, count: int) -> None:
        while len(self._threads) < count:
            stop = threading.Event()
            thread = threading.Thread(target=self._client, args=(stop,), daemon=True)
            thread.start()
            self._threads.append((thread, stop))
        while len(self._threads) > count:
            _, stop = self._threads.pop()
            stop.set()

    def _client(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=REQUEST_SECONDS, trust_env=False) as http:
            while not stop.is_set():
                started = time.monotonic()
                ok = self._request(http, started, stop)
                with self._lock:
                    self._results.append((time.monotonic(), ok, time.monotonic() - started))

    def _request(self, http: httpx.Client, started: float, stop: threading.Event) -> bool:
        """One request, carried as a load balancer carries it: refused or dropped before any
        answer (the service restarting) it is tried again until its 2 s are spent; then, or on
        a 5xx or a timeout, it failed."""
        while True:
            try:
                return http.get(self._url).status_code == 200
            except (httpx.ConnectError, httpx.RemoteProtocolError):
                if time.monotonic() - started + RETRY_PAUSE >= REQUEST_SECONDS or stop.is_set():
                    return False
                stop.wait(RETRY_PAUSE)
            except httpx.HTTPError:
                return False

    def window(self, seconds: float = WINDOW_SECONDS) -> tuple[int, int, float]:
        """(requests, failures, p99 latency in ms) over the last ``seconds``."""
        since = time.monotonic() - seconds
        with self._lock:
            recent = [r for r in self._results if r[0] >= since]
        if not recent:
            return 0, 0, 0.0
        latencies = sorted(r[2] for r in recent)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        return len(recent), sum(1 for r in recent if not r[1]), p99

    def stop(self) -> None:
        self.set_clients(0)


@dataclass
class Monitor:
    bad: int = 0
    good: int = 0
    firing: bool = False
    values: deque[float] = field(default_factory=lambda: deque(maxlen=ALERT_AFTER_TICKS))


@dataclass(frozen=True)
class Reading:
    """One measurement: what the console shows and, as the same numbers with the same time,
    what SO1 stores and judges."""

    at: datetime
    error_rate: float = 0.0
    p99_ms: float = 0.0
    pool: float | None = None
    requests: int = 0

    def samples(self, service: str) -> list[dict[str, Any]]:
        values = [
            ("error_rate", self.error_rate),
            ("latency_p99_ms", self.p99_ms),
            ("request_rate", self.requests / WINDOW_SECONDS),
        ] + ([("db_pool_utilization", self.pool)] if self.pool is not None else [])
        at = self.at.isoformat()
        return [
            {"service": service, "metric": m, "value": round(v, 3), "at": at} for m, v in values
        ]


class Collector:
    """Every second: measure error rate, p99, pool utilisation and request rate, push them to
    SO1 stamped with when they were measured (kept and sent again while SO1 is busy), and alert
    (then resolve) when the error rate stays over 1%. ``history`` is every reading taken."""

    def __init__(self, traffic: Traffic, app_url: str, service: str):
        self.traffic, self.service = traffic, service
        self.reading = Reading(datetime.now(UTC))
        self.history: deque[Reading] = deque(maxlen=HISTORY)
        self.alerts_sent: list[str] = []
        self._run_tag = f"{int(time.time())}"  # a later demo's alert is a new one, not a repeat
        self._unsent: list[dict[str, Any]] = []
        self._app = httpx.Client(base_url=app_url, timeout=1.0, trust_env=False)
        self._so1: httpx.Client | None = None  # readings wait for connect()
        self._error_monitor = Monitor()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-collector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def connect(self, so1_url: str, token: str) -> None:
        """From the next tick on, push to SO1 (the readings taken so far too) and alert it."""
        headers = {"Authorization": f"Bearer {token}"}
        self._so1 = httpx.Client(base_url=so1_url, timeout=10.0, headers=headers)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def between(self, start: datetime, end: datetime) -> list[Reading]:
        return [r for r in list(self.history) if start <= r.at <= end]

    def _run(self) -> None:
        while not self._stop.wait(1.0):  # readings at least 1 s apart: one per gate step
            try:
                self._tick()
            except httpx.HTTPError:
                continue  # SO1 or the service is busy: the next tick tries again

    def _tick(self) -> None:
        count, failures, p99 = self.traffic.window()
        rate = 100.0 * failures / count if count else 0.0
        self.reading = Reading(datetime.now(UTC), rate, p99, self._pool(), count)
        self.history.append(self.reading)
        self._unsent = (self._unsent + self.reading.samples(self.service))[-MAX_UNSENT:]
        if self._so1 is None:
            return
        try:
            self._so1.post("/v1/metrics", json={"samples": self._unsent}).raise_for_status()
            self._unsent = []
        except httpx.HTTPError:
            pass  # kept, with their times, for the next tick
        self._alert(rate)

    def _pool(self) -> float | None:
        try:
            stats = self._app.get("/stats").json()
        except (httpx.HTTPError, ValueError):
            return None
        return 100.0 * float(stats["in_use"]) / float(stats["pool_size"])

    def _alert(self, rate: float) -> None:
        """The error-rate monitor, as Datadog's would page: it fires after 3 bad seconds with
        their average and the top error in its message, and resolves after 10 good ones."""
        state = self._error_monitor
        state.values.append(rate)
        average = sum(state.values) / len(state.values)
        self._monitor(
            state,
            rate > 1.0,
            "error-rate",
            "error_rate",
            f"{average:.0f}%",
            "< 1%",
            "error",
            f"API error rate {average:.0f}% (threshold < 1%): Connection timeout after 100ms",
        )

    def _monitor(
        self,
        state: Monitor,
        bad: bool,
        key: str,
        metric: str,
        value: str,
        threshold: str,
        severity: str,
        summary: str,
    ) -> None:
        state.bad = state.bad + 1 if bad else 0
        state.good = 0 if bad else state.good + 1
        if state.bad >= ALERT_AFTER_TICKS and not state.firing:
            self._send(
                {
                    "event_action": "trigger",
                    "metric": metric,
                    "current_value": value,
                    "threshold": threshold,
                    "severity": severity,
                    "summary": summary,
                },
                key,
            )
            state.firing = True
        elif state.firing and state.good >= RESOLVE_AFTER_TICKS:
            self._send({"event_action": "resolve"}, key)
            state.firing = False

    def _send(self, event: dict[str, str], key: str) -> None:
        assert self._so1 is not None
        dedup = f"demo-{key}-{self._run_tag}"
        alert = event | {"dedup_key": dedup, "source": "datadog", "service": self.service}
        self._so1.post("/v1/alerts", json=alert).raise_for_status()
        self.alerts_sent.append(f"{event['event_action']} {key}")
