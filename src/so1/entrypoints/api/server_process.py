"""One server process of `so1 serve --workers N` on Linux (started by ``cli/server_group``):

    python -m so1.entrypoints.api.server_process HOST PORT [WAKE_ADDRESS]

It binds its own listening socket with SO_REUSEPORT, so the kernel shares the connections out
among the group's processes (uvicorn's own workers share one socket, and one process ends up
accepting most keep-alive connections), and serves the app on it with uvicorn. With
WAKE_ADDRESS, triage runs in the group's one triage process, woken there after each commit.
It stops on SIGINT/SIGTERM (forwarded by its supervisor), or by itself when the supervisor is
gone."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

import uvicorn

from so1.config import load_settings

PARENT_CHECK_SECONDS = 1.0


def reuseport_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT (unless ``reuse_port`` is off),
    listening."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served (None: free). Bound without SO_REUSEPORT, so a
    port another SO_REUSEPORT group listens on counts as taken: two `so1 serve` would
    otherwise share its connections without a word."""
    try:
        reuseport_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _stop_when_orphaned(parent: int) -> None:
    """A SIGKILLed supervisor forwards no signal: stop when the parent changes."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="so1-parent-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    host, port, *wake = argv
    from so1.entrypoints.api.app import create_app  # here: the supervisor imports this module

    settings = load_settings()
    sock = reuseport_socket(host, int(port))
    _stop_when_orphaned(os.getppid())
    app = create_app(triage_wake=wake[0] if wake else None, served=True)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=False,  # the app writes its own (entrypoints/api/access_log.py)
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
