"""A process tree read from /proc (Linux): its members, their CPU, and the established TCP
connections each holds on a local port (how `so1 serve --workers N` shares them out)."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
ESTABLISHED = "01"
LISTEN = "0A"


def _stat(pid: int) -> list[str]:
    """The fields after the command name of /proc/PID/stat (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(found)


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    members, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        members.append(current)
        waiting.extend(children(current))
    return members


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of ``pids`` (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def _inodes(port: int, state: str) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def connections(pids: list[int], port: int, state: str = ESTABLISHED) -> dict[int, int]:
    """How many connections on local ``port`` each of ``pids`` holds (established, or
    listening sockets with ``state=LISTEN``)."""
    inodes = _inodes(port, state)
    held = {}
    for pid in pids:
        count = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    count += 1
        except OSError:
            pass
        held[pid] = count
    return held
