"""A tiny API service with a database connection pool, for `so1 demo`.

Each request borrows one of ``DATABASE_POOL_SIZE`` connections (default 20) for
``QUERY_SECONDS`` (a query). When none frees up within ``POOL_TIMEOUT_MS`` the request fails
with 500 "Connection timeout after <n>ms", as a real pool does. ``GET /stats`` reports the pool
size and how many connections are in use; ``GET /health`` answers 503 while every connection is
taken. Stdlib only: it runs under the local platform
(supervisord) like any release.

It serves as a production server does: HTTP/1.1 keep-alive, a listen backlog of 128 (Python's
default of 5 drops connections under load, and a dropped SYN costs its client a second), and on
SIGTERM a short drain: it stops accepting, finishes the requests in flight (at most
``DRAIN_SECONDS``), answers them with ``Connection: close``, then exits.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
QUERY_SECONDS = float(os.environ.get("QUERY_SECONDS", "0.175"))
TIMEOUT_MS = int(os.environ.get("POOL_TIMEOUT_MS", "100"))
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "3"))

pool = threading.BoundedSemaphore(POOL_SIZE)
in_use = 0
in_use_lock = threading.Lock()
in_flight = 0
draining = threading.Event()


def _borrow() -> bool:
    global in_use  # noqa: PLW0603 - one process-wide pool
    if not pool.acquire(timeout=TIMEOUT_MS / 1000):
        return False
    with in_use_lock:
        in_use += 1
    return True


def _give_back() -> None:
    global in_use  # noqa: PLW0603
    with in_use_lock:
        in_use -= 1
    pool.release()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client, not per request

    def do_GET(self) -> None:
        global in_flight  # noqa: PLW0603 - one process-wide count, for the drain
        with in_use_lock:
            in_flight += 1
        try:
            self._answer()
        finally:
            with in_use_lock:
                in_flight -= 1

    def _answer(self) -> None:
        if self.path == "/stats":
            self._send(200, {"pool_size": POOL_SIZE, "in_use": in_use})
        elif self.path == "/health":  # the runbook's {"status": "healthy", "checks": {...}}
            exhausted = in_use >= POOL_SIZE
            database = "exhausted" if exhausted else "ok"
            status = "unhealthy" if exhausted else "healthy"
            self._send(
                503 if exhausted else 200, {"status": status, "checks": {"database": database}}
            )
        elif not _borrow():
            self._send(500, {"error": f"Connection timeout after {TIMEOUT_MS}ms"})
            print(
                f"ERROR Connection timeout after {TIMEOUT_MS}ms acquiring a database connection",
                flush=True,
            )
        else:
            try:
                time.sleep(QUERY_SECONDS)
                self._send(200, {"ok": True})
            finally:
                _give_back()

    def _send(self, status: int, body: dict[str, object]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def drain(server: Server) -> None:
    """Stop accepting, let the requests in flight finish (up to DRAIN_SECONDS), exit."""
    draining.set()
    server.shutdown()
    server.server_close()
    deadline = time.monotonic() + DRAIN_SECONDS
    while in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    print(f"pool-service drained; {in_flight} requests still in flight at exit", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    server = Server(("127.0.0.1", port), Handler)
    stopping = threading.Thread(target=drain, args=(server,), daemon=True)

    def on_sigterm(*_: object) -> None:
        if not stopping.is_alive() and not draining.is_set():
            stopping.start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"pool-service listening on :{port} with DATABASE_POOL_SIZE={POOL_SIZE}", flush=True)
    server.serve_forever()
    stopping.join()


if __name__ == "__main__":
    main()
