"""Load generator for bench/ingest.py, plus its RSS and slope helpers.

Several client processes (spawned, so neither the server nor the parent's threads are
forked), each with one thread per keep-alive http.client connection. Closed loop sends as
fast as the server answers; open loop sends request i at t0 + i/rate and counts the sends
that started late (the client fell behind). Latency is from send to the full answer.

Standard library only, so this stays cheap to import in each child.
"""

from __future__ import annotations

import http.client
import importlib
import json
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CTX = mp.get_context("spawn")
REQUEST_TIMEOUT = 10.0
LATE_S = 0.005  # an open-loop send starting more than 5 ms after its slot is "late"
POLL_S = 0.02  # poll_samples: pause between rounds
Row = tuple[str, str, str, str, str]  # figure, value, target, ratio to baseline, met
FILL_COLS = (
    "id, source, dedup_key, status, summary, service, labels, details, is_test, dedup_count, "
    "flap_count, first_seen_at, last_seen_at, resolved_at, triage_state"
)


@dataclass(frozen=True)
class Plan:
    path: str  # /v1/alerts or the baseline route
    count: int  # requests in all
    seconds: float  # closed loop: time cap; open loop: count / rate
    rate: float = 0.0  # > 0: open loop at this many requests/s in all
    keys: str = "mixed"  # mixed: even requests new keys, odd ones repeat the previous key
    services: tuple[str, ...] = ("svc",)
    tag: str = "a"  # dedup-key prefix, unique per scenario
    sample_every: int = 0  # put (alert_id, wall time of the 202) of every k-th on `samples`

    @property
    def stop_after(self) -> float:
        """No new request after this many seconds (open loop: 5 s past its last slot)."""
        return self.seconds + 5 if self.rate > 0 else self.seconds


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # successful requests, seconds
    errors: int = 0
    sent: int = 0
    late: int = 0
    max_lag: float = 0.0
    client_cpu: float = 0.0  # CPU seconds of all client processes while sending
    seconds: float = 0.0  # first slot to last answer
    first_error: str = ""

    @property
    def ok(self) -> int:
        return len(self.latencies)


def body(plan: Plan, conn: int, j: int) -> bytes:
    """The j-th request of connection `conn`; a duplicate reuses the key just before it."""
    new = plan.keys == "unique" or j % 2 == 0
    n = j if plan.keys == "unique" else j // 2
    service = plan.services[(conn + n) % len(plan.services)]
    return json.dumps(
        {
            "event_action": "trigger",
            "dedup_key": f"{plan.tag}-{conn}-{n}",
            "source": "bench",
            "service": service,
            "metric": "error_rate",
            "current_value": 12.5 if new else 13.5,
            "threshold": "5%",
            "summary": f"{service} error rate above 5%",
        }
    ).encode()


class _Conn:
    """One keep-alive connection; after a failure it reconnects on the next request."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.http: http.client.HTTPConnection | None = self._open()

    def _open(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        conn.connect()
        return conn

    def post(self, path: str, data: bytes) -> tuple[int, bytes]:
        try:
            self.http = self.http or self._open()
            self.http.request("POST", path, data, self.headers)
            resp = self.http.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return 0, repr(exc).encode()

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None


def _drive(
    conn: _Conn, plan: Plan, g: int, total: int, t0: float, out: Outcome, samples: Any
) -> None:
    deadline = t0 + plan.stop_after
    for j, i in enumerate(range(g, plan.count, total)):
        if time.time() >= deadline:
            break
        if plan.rate > 0:
            slot = t0 + i / plan.rate
            if (wait := slot - time.time()) > 0:
                time.sleep(wait)
            lag = time.time() - slot
            out.late += lag > LATE_S
            out.max_lag = max(out.max_lag, lag)
        start = time.perf_counter()
        status, data = conn.post(plan.path, body(plan, g, j))
        elapsed = time.perf_counter() - start
        out.sent += 1
        out.seconds = max(out.seconds, time.time() - t0)
        if status != 202:
            out.errors += 1
            out.first_error = out.first_error or f"{status} {data[:200]!r}"
            continue
        out.latencies.append(elapsed)
        if samples is not None and plan.sample_every and i % plan.sample_every == 0:
            samples.put((json.loads(data)["alert_id"], time.time()))


def merge(parts: list[Outcome]) -> Outcome:
    total = Outcome()
    for part in parts:
        total.latencies += part.latencies
        total.errors += part.errors
        total.sent += part.sent
        total.late += part.late
        total.client_cpu += part.client_cpu
        total.max_lag = max(total.max_lag, part.max_lag)
        total.seconds = max(total.seconds, part.seconds)
        total.first_error = total.first_error or part.first_error
    return total


def _process(
    target: tuple[str, int, str], plan: Plan, first: int, conns: int, total: int, sync: Any
) -> None:
    ready, go, t0, results, samples = sync
    clients = [_Conn(*target) for _ in range(conns)]
    outs = [Outcome() for _ in clients]
    ready.put(first)
    go.wait()
    cpu = time.process_time()
    threads = [
        threading.Thread(target=_drive, args=(c, plan, first + k, total, t0.value, o, samples))
        for k, (c, o) in enumerate(zip(clients, outs, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = merge(outs)
    merged.client_cpu = time.process_time() - cpu
    for c in clients:
        c.close()
    results.put(merged)


def run(
    host: str, port: int, key: str, plan: Plan, concurrency: int, procs: int, samples: Any = None
) -> Outcome:
    """Drive `plan` over `concurrency` connections in `procs` processes; merge the outcomes."""
    procs = max(1, min(procs, concurrency))
    ready, results, go, t0 = CTX.Queue(), CTX.Queue(), CTX.Event(), CTX.Value("d", 0.0)
    workers, first = [], 0
    for p in range(procs):
        conns = concurrency // procs + (p < concurrency % procs)
        args = (
            (host, port, key),
            plan,
            first,
            conns,
            concurrency,
            (ready, go, t0, results, samples),
        )
        workers.append(CTX.Process(target=_process, args=args, daemon=True))
        first += conns
    for w in workers:
        w.start()
    try:
        for _ in workers:
            ready.get(timeout=60)
        t0.value = time.time() + 0.05
        go.set()
        wait = plan.stop_after + 2 * REQUEST_TIMEOUT + 30
        parts: list[Outcome] = [results.get(timeout=wait) for _ in workers]
    except queue.Empty as exc:
        raise RuntimeError("client processes did not report in time") from exc
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
    return merge(parts)


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process: psutil when installed, else /proc/<pid>/status."""
    try:
        return float(importlib.import_module("psutil").Process(pid).memory_info().rss) / 2**20
    except ImportError:
        pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope per minute of (seconds, value) points."""
    if len(points) < 3:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return round(60 * sum((x - mx) * (y - my) for x, y in points) / den, 2) if den else 0.0


def prefill(raw: Any, sqlite: bool, rows: int, services: Sequence[str]) -> None:
    """Bulk-insert resolved alerts (distinct keys, a month old) on a DB-API connection:
    batched executemany for SQLite, COPY (then ANALYZE) for PostgreSQL through psycopg."""
    base = datetime.now(UTC) - timedelta(days=30)

    def batch(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        for i in range(lo, hi):
            at: Any = base + timedelta(seconds=i)
            at = at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at  # SQLAlchemy's format
            yield (f"alt_fill{i:012d}", "events", f"fill-{i}", "resolved", "prefilled",
                   services[i % len(services)], '{"origin": "bench"}', "{}", False, 1, 0, at,
                   at, at, "closed")  # fmt: skip

    cur = raw.cursor()
    if sqlite:
        sql = f"INSERT INTO alerts ({FILL_COLS}) VALUES ({', '.join('?' * 15)})"
        for lo in range(0, rows, 50_000):
            cur.executemany(sql, list(batch(lo, min(rows, lo + 50_000))))
            raw.commit()
        return
    with cur.copy(f"COPY alerts ({FILL_COLS}) FROM STDIN") as copy_in:
        for row in batch(0, rows):
            copy_in.write_row(row)
    cur.execute("ANALYZE alerts")  # as autovacuum would after such a load
    raw.commit()


def poll_samples(
    samples: Any,
    pending: dict[str, float],
    seen: list[float],
    done: Callable[[str], bool],
    timeout: float,
) -> None:
    """Poll every sampled (alert_id, wall time of its 202) until done(alert_id); record the
    delay in `seen`. (None, _) on `samples` means the load ended: wait at most `timeout` more."""
    deadline: float | None = None
    while True:
        try:
            while True:
                alert_id, acked = samples.get_nowait()
                if alert_id is None:
                    deadline = time.monotonic() + timeout
                else:
                    pending[alert_id] = acked
        except queue.Empty:
            pass
        for alert_id, acked in list(pending.items()):
            if done(alert_id):
                seen.append(time.time() - acked)
                del pending[alert_id]
        if deadline is not None and (not pending or time.monotonic() > deadline):
            return
        time.sleep(POLL_S)


def print_table(title: str, table: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'figure':<44}{'value':>15}  {'target':<12}{'/baseline':>10}{'met':>5}")
    for label, value, target, rel, ok in table:
        print(f"{label:<44}{value:>15}  {target:<12}{rel:>10}{ok:>5}")
