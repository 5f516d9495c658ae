"""A tiny API service with a database connection pool, for `so1 demo`.

Each request borrows one of ``DATABASE_POOL_SIZE`` connections (default 20) for
``QUERY_SECONDS`` (a query). When none frees up within ``POOL_TIMEOUT_MS`` the request fails
with 500 "Connection timeout after <n>ms", as a real pool does. ``GET /stats`` reports the pool
size and how many connections are in use; ``GET /health`` answers 503 while every connection is
taken. Stdlib only: it runs under the local platform
(supervisord) like any release.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
QUERY_SECONDS = float(os.environ.get("QUERY_SECONDS", "0.15"))
TIMEOUT_MS = int(os.environ.get("POOL_TIMEOUT_MS", "100"))

pool = threading.BoundedSemaphore(POOL_SIZE)
in_use = 0
in_use_lock = threading.Lock()


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
    def do_GET(self) -> None:
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
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"pool-service listening on :{port} with DATABASE_POOL_SIZE={POOL_SIZE}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
