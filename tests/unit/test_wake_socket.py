"""The wake-up datagrams of a `so1 serve --workers N` group (adapters/jobs/wake_socket.py)."""

from __future__ import annotations

import os
import threading

import pytest

from so1.adapters.jobs import wake_socket
from so1.adapters.jobs.wake_socket import WakeSocketJobs

WAIT = 10.0


@pytest.fixture
def address() -> str:
    return wake_socket.new_address()


def test_a_wake_up_reaches_the_bound_process(address: str) -> None:
    woken, stop = threading.Event(), threading.Event()
    sock = wake_socket.bind(address)
    woken_names: list[str] = []

    def wake(name: str) -> None:
        woken_names.append(name)
        woken.set()

    reader = wake_socket.wake_from_datagrams(sock, wake, lambda: ["triage"], stop, os.getppid())
    sender = WakeSocketJobs(["triage"], address)
    sender.start()
    sender.wake("triage")
    assert woken.wait(WAIT)
    assert set(woken_names) == {"triage"}
    assert [state.alive for state in sender.states()] == [True]
    sender.stop()
    stop.set()
    reader.join(WAIT)
    assert not reader.is_alive()


def test_other_jobs_send_nothing(address: str) -> None:
    sock = wake_socket.bind(address)
    sender = WakeSocketJobs(["triage"], address)
    sender.start()
    sender.wake("delivery")
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(64)
    sender.wake("triage")
    sock.setblocking(True)
    assert sock.recv(64) == wake_socket.WAKE_UP
    sock.close()
    sender.stop()


def test_nobody_bound_is_not_alive_and_raises_nothing(address: str) -> None:
    sender = WakeSocketJobs(["triage"], address)
    sender.wake("triage")  # not started: nothing to send with
    sender.start()
    sender.wake("triage")
    assert [state.alive for state in sender.states()] == [False]
    sender.stop()


def test_a_full_queue_drops_wake_ups_without_blocking(address: str) -> None:
    sock = wake_socket.bind(address)
    sender = WakeSocketJobs(["triage"], address)
    sender.start()
    for _ in range(5000):  # far more than a datagram queue holds
        sender.wake("triage")
    assert [state.alive for state in sender.states()] == [True]
    wake_socket._drain(sock)
    assert sock.gettimeout() == wake_socket.PARENT_CHECK_SECONDS  # it waits again after
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(64)
    sock.close()
    sender.stop()


def test_one_address_is_bound_once(address: str) -> None:
    first = wake_socket.bind(address)
    with pytest.raises(OSError, match="in use"):
        wake_socket.bind(address)
    first.close()
    wake_socket.bind(address).close()  # free again once closed


def test_a_path_address_works_too(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "wake.sock")
    sock = wake_socket.bind(path)
    sender = WakeSocketJobs(["triage"], path)
    sender.start()
    sender.wake("triage")
    assert sock.recv(64) == wake_socket.WAKE_UP
    sock.close()
    sender.stop()


def test_the_reader_stops_when_its_parent_is_gone(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wake_socket, "PARENT_CHECK_SECONDS", 0.05)
    stop = threading.Event()
    sock = wake_socket.bind(address)
    not_the_parent = os.getppid() + 1
    reader = wake_socket.wake_from_datagrams(
        sock, lambda _: None, lambda: ["triage"], stop, not_the_parent
    )
    assert stop.wait(WAIT)
    reader.join(WAIT)
    assert sock.fileno() == -1  # closed by the reader
