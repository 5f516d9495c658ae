"""Pieces of the fault tests: a steady load of alerts that remembers what was acknowledged, a
TCP proxy that can cut a connection path, and reading alerts straight from the database.
Everything stays on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
from sqlalchemy import create_engine, text

from so1.adapters.db.engine import build_engine

SERVICES = ("checkout-api", "search-api", "billing-api", "auth-api")


class AlertLoad:
    """``threads`` senders posting new alerts (unique dedup keys) as fast as the server
    answers, ``limit`` in all at most; ``acked`` holds the keys answered 202, ``statuses``
    counts every outcome (a status code, or the transport error's name)."""

    def __init__(
        self, url: str, token: str, threads: int = 8, prefix: str = "load", limit: int = 10**9
    ) -> None:
        self.url, self.token, self.prefix = url, token, prefix
        self._per_sender = max(1, limit // threads)  # alerts each sender posts at most
        self.acked: set[str] = set()
        self.statuses: Counter[str] = Counter()
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> AlertLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def count(self, outcome: str) -> int:
        with self._guard:
            return self.statuses[outcome]

    def _send(self, sender: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            n = 0
            while not self._stop.is_set() and n < self._per_sender:
                n += 1
                key = f"{self.prefix}-{sender}-{n}"
                body = {
                    "event_action": "trigger",
                    "source": "load",
                    "dedup_key": key,
                    "service": SERVICES[n % len(SERVICES)],
                    "metric": "error_rate",
                    "summary": f"error rate high on {SERVICES[n % len(SERVICES)]}",
                }
                try:
                    outcome = str(client.post("/v1/alerts", json=body).status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                    time.sleep(0.05)  # the server is gone: do not spin
                with self._guard:
                    self.statuses[outcome] += 1
                    if outcome == "202":
                        self.acked.add(key)


def wait_until(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Alerts:
    """Alert rows, read straight from the database."""

    def __init__(self, url: str) -> None:
        self.engine = build_engine(url) if url.startswith("sqlite") else create_engine(url)

    def keys(self, prefix: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT dedup_key FROM alerts WHERE dedup_key LIKE :p"), {"p": f"{prefix}-%"}
            )
            return {str(r[0]) for r in rows}

    def pending_triage(self) -> int:
        with self.engine.connect() as conn:
            query = text("SELECT count(*) FROM alerts WHERE triage_state IN ('pending', 'claimed')")
            return int(conn.execute(query).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


class TcpProxy:
    """Forwards a loopback port to ``target``. ``cut()`` drops every open connection and
    refuses new ones (nothing listens), ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._guard = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,))
        self._accepting.daemon = True
        self._accepting.start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._guard:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._close(end)

    def _close(self, end: socket.socket) -> None:
        with self._guard:
            self._open.discard(end)
        with suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()

    def cut(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress
        self._listener.close()
        self._accepting.join(timeout=5)
        with self._guard:
            open_now = list(self._open)
        for end in open_now:
            self._close(end)

    def restore(self) -> None:
        self._listener = self._listen(self.port)
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,))
        self._accepting.daemon = True
        self._accepting.start()

    def close(self) -> None:
        self.cut()


@contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
