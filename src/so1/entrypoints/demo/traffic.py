"""Load on the sample service and what a monitoring agent would do with it: closed-loop
clients, and a collector that turns their results and the service's pool statistics into
metric samples and alerts sent to SO1 (as Datadog would)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

WINDOW_SECONDS = 3.0
ALERT_AFTER_TICKS = 5  # over the threshold this many seconds in a row
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
        with httpx.Client(timeout=2.0) as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    ok = http.get(self._url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                    stop.wait(0.05)  # the service is restarting: do not spin
                with self._lock:
                    self._results.append((time.monotonic(), ok, time.monotonic() - started))

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


@dataclass
class Reading:
    error_rate: float = 0.0
    p99_ms: float = 0.0
    pool: float | None = None
    requests: int = 0
    alerts_sent: list[str] = field(default_factory=list)


class Collector:
    """Every second: push error rate, p99, pool utilisation and request rate to SO1, and
    alert (then resolve) when the error rate stays over 1%."""

    def __init__(self, traffic: Traffic, app_url: str, so1_url: str, token: str, service: str):
        self.traffic, self.service = traffic, service
        self.reading = Reading()
        self._app = httpx.Client(base_url=app_url, timeout=1.0)
        self._so1 = httpx.Client(
            base_url=so1_url, timeout=10.0, headers={"Authorization": f"Bearer {token}"}
        )
        self._error_monitor = Monitor()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-collector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._tick()
            except httpx.HTTPError:
                continue  # SO1 or the service is busy: the next tick tries again

    def _tick(self) -> None:
        count, failures, p99 = self.traffic.window()
        rate = 100.0 * failures / count if count else 0.0
        pool = self._pool()
        self.reading = Reading(rate, p99, pool, count, self.reading.alerts_sent)
        samples = [
            ("error_rate", rate),
            ("latency_p99_ms", p99),
            ("request_rate", count / WINDOW_SECONDS),
        ]
        if pool is not None:
            samples.append(("db_pool_utilization", pool))
        body = {
            "samples": [
                {"service": self.service, "metric": m, "value": round(v, 3)} for m, v in samples
            ]
        }
        self._so1.post("/v1/metrics", json=body).raise_for_status()
        self._alert(rate, pool)

    def _pool(self) -> float | None:
        try:
            stats = self._app.get("/stats").json()
        except (httpx.HTTPError, ValueError):
            return None
        return 100.0 * float(stats["in_use"]) / float(stats["pool_size"])

    def _alert(self, rate: float, pool: float | None) -> None:  # noqa: ARG002
        """The error-rate monitor, as Datadog's would page: it fires after 5 bad seconds with
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
            state.firing = True
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
        elif state.firing and state.good >= RESOLVE_AFTER_TICKS:
            state.firing = False
            self._send({"event_action": "resolve"}, key)

    def _send(self, event: dict[str, str], key: str) -> None:
        alert = event | {"dedup_key": f"demo-{key}", "source": "datadog", "service": self.service}
        self._so1.post("/v1/alerts", json=alert).raise_for_status()
        self.reading.alerts_sent.append(f"{event['event_action']} {key}")
