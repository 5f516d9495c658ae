"""How busy the machine was while a setup was measured, so a slow figure can be told apart from
a slow machine: the share of CPU time the hypervisor gave to other guests (steal, from
/proc/stat) and the longest pause of a process that only sleeps (a heartbeat: a pause of a
second or more means every process here stood still, the load generator included).

`Watch` is a context manager; its `figures()` are added to the setup's figures.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import timeit
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO

PROC_STAT = Path("/proc/stat")
HEARTBEAT_SECONDS = 0.01
LONG_PAUSE_SECONDS = 1.0  # a pause this long is listed with the time it ended


def reference_loop_ms(repeat: int = 5) -> float:
    """The machine's speed for one Python thread: the best of `repeat` timings of summing a
    million integers, in ms (printed at the start of a run, to compare machines)."""
    best = min(timeit.repeat("sum(range(1_000_000))", number=1, repeat=repeat))
    return round(1000 * best, 1)


@dataclass(frozen=True)
class CpuTimes:
    """The whole machine's CPU time so far, in clock ticks: all of it, and the part stolen."""

    total: int
    steal: int

    @classmethod
    def read(cls, stat: Path = PROC_STAT) -> CpuTimes | None:
        """From the first line of /proc/stat; None where there is no such file (not Linux)."""
        try:
            first = stat.read_text().splitlines()[0].split()
        except (OSError, IndexError):
            return None
        ticks = [int(value) for value in first[1:9]]  # user … steal; guest is inside user
        return cls(sum(ticks), ticks[7] if len(ticks) > 7 else 0)


def steal_percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The stolen share of the CPU time between two readings, in percent."""
    if before is None or after is None or after.total <= before.total:
        return None
    return round(100 * (after.steal - before.steal) / (after.total - before.total), 1)


@dataclass
class Pauses:
    """The longest oversleep seen, and each one of a second or more (when it ended, s)."""

    longest: float = 0.0
    long_pauses: list[tuple[float, float]] = field(default_factory=list)

    def note(self, pause: float, ended_at: float) -> None:
        self.longest = max(self.longest, pause)
        if pause >= LONG_PAUSE_SECONDS:
            self.long_pauses.append((round(ended_at, 3), round(pause, 3)))


def beat(every: float, stop: TextIO) -> Pauses:
    """Sleep ``every`` seconds at a time (waiting on ``stop``) until ``stop`` is readable or
    closed, noting each oversleep."""
    seen, last = Pauses(), time.monotonic()
    while not select.select([stop], [], [], every)[0]:
        now = time.monotonic()
        seen.note(now - last - every, time.time())
        last = now
    return seen


class Heartbeat:
    """`beat` in a process of its own: a thread of the bench would also wait for the bench's
    own work (the GIL), which is not the machine's pause."""

    def __init__(self, every: float = HEARTBEAT_SECONDS) -> None:
        self.every = every
        self.seen = Pauses()
        self._child: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), f"{self.every}"]
        self._child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._child.stdout is not None
        self._child.stdout.readline()  # "beating": watching from now on

    def stop(self) -> None:
        """Close the child's stdin and read what it saw (nothing if it died)."""
        child, self._child = self._child, None
        if child is None:
            return
        out, _ = child.communicate(timeout=30)
        try:
            found = json.loads(out)
        except ValueError:
            return
        self.seen.longest = max(self.seen.longest, float(found["longest"]))
        self.seen.long_pauses += [(float(at), float(s)) for at, s in found["long_pauses"]]


class Watch:
    """Steal and the heartbeat's longest pause over a `with` block."""

    def __init__(self, every: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat = Heartbeat(every)
        self._before: CpuTimes | None = None
        self._after: CpuTimes | None = None

    def __enter__(self) -> Watch:
        self._before = CpuTimes.read()
        self.heartbeat.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.heartbeat.stop()
        self._after = CpuTimes.read()

    def figures(self) -> dict[str, object]:
        return {
            "steal_pct": steal_percent(self._before, self._after),
            "pause_ms": round(1000 * self.heartbeat.seen.longest, 1),
            "long_pauses": self.heartbeat.seen.long_pauses,
        }


if __name__ == "__main__":  # the heartbeat's process: sleeps until its stdin closes
    print("beating", flush=True)
    print(json.dumps(asdict(beat(float(sys.argv[1]), sys.stdin))))
