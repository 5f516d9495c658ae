"""A service's health endpoint for tests, over real HTTP on loopback: it answers what the test
sets (status code and body), or sleeps first to be slow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HealthAnswer:
    status: int = 200
    body: Any = field(default_factory=lambda: {"status": "healthy", "checks": {"database": "ok"}})
    delay: float = 0.0
    requests: int = 0


@contextmanager
def health_server() -> Iterator[tuple[str, HealthAnswer]]:
    """Yields (the health URL, the answer to change)."""
    answer = HealthAnswer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer.requests += 1
            if answer.delay:
                time.sleep(answer.delay)
            raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
            data = raw if isinstance(raw, bytes) else raw.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/health", answer
    finally:
        server.shutdown()
        server.server_close()
