"""Wake-ups for the one triage process of `so1 serve --workers N` (Linux), sent by every server
process of the group over a unix datagram socket.

The triage process binds the address (a name in Linux's abstract namespace, written with a
leading ``@``, so no file is left behind); each server sends one byte after a commit, without
blocking: a full queue already holds a wake-up, and a refused send means the triage process is
being restarted (its first pass reads what is waiting: the database is the queue)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence

from so1.ports import JobState

WAKE_UP = b"!"
PARENT_CHECK_SECONDS = 1.0  # how often the receiver looks whether its parent is gone


def new_address() -> str:
    """A fresh address in the abstract namespace, for one `so1 serve` group."""
    return f"@so1-wake-{os.getpid()}-{secrets.token_hex(6)}"


def _socket_address(address: str) -> str | bytes:
    """``@name`` is a name in the abstract namespace (no file); anything else, a path."""
    return b"\0" + address[1:].encode() if address.startswith("@") else address


class WakeSocketJobs:
    """A JobRunner for ``names`` run by another process: ``wake`` sends it one datagram."""

    def __init__(self, names: Sequence[str], address: str) -> None:
        self.names = list(names)
        self._address = _socket_address(address)
        self._socket: socket.socket | None = None

    def start(self) -> None:
        if self._socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            self._socket = sock

    def wake(self, name: str) -> None:
        if name in self.names:
            self._send()

    def _send(self) -> bool:
        """True when the triage process holds a wake-up now (sent, or its queue is full)."""
        sock = self._socket
        if sock is None:
            return False
        try:
            sock.sendto(WAKE_UP, self._address)
        except BlockingIOError:
            return True  # full: a wake-up is waiting already
        except OSError:
            return False  # nobody bound: the triage process is being restarted
        return True

    def states(self) -> list[JobState]:
        alive = self._send()  # a spare wake-up costs one pass that finds nothing
        return [JobState(name, alive) for name in self.names]

    def stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


def bind(address: str) -> socket.socket:
    """The receiving end, bound to ``address`` (raises OSError when another holds it)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(_socket_address(address))
    except OSError:
        sock.close()
        raise
    sock.settimeout(PARENT_CHECK_SECONDS)
    return sock


def wake_from_datagrams(
    sock: socket.socket,
    wake: Callable[[str], None],
    names: Callable[[], Sequence[str]],
    stop: threading.Event,
    parent: int,
) -> threading.Thread:
    """In a thread: each run of datagrams read at once wakes every job ``names`` gives;
    ``stop`` is set when the process's parent is no longer ``parent`` (the group's supervisor
    is gone)."""

    def read() -> None:
        with sock:
            while not stop.is_set():
                try:
                    sock.recv(64)
                except TimeoutError:
                    if os.getppid() != parent:
                        stop.set()
                    continue
                except OSError:
                    stop.set()
                    return
                _drain(sock)
                for name in names():
                    wake(name)

    thread = threading.Thread(target=read, name="so1-wake-reader", daemon=True)
    thread.start()
    return thread


def _drain(sock: socket.socket) -> None:
    """Read the datagrams already queued, without waiting: they ask for the same pass."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while sock.recv(64):
                pass
    finally:
        sock.settimeout(timeout)
