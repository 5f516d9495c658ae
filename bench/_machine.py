"""How busy the machine was while a setup was measured, so a slow figure can be told apart from
a slow machine: the share of CPU time the hypervisor gave to other guests (steal, from
/proc/stat) and the longest pause of a thread that only sleeps (a heartbeat: a pause of a
second or more means every process here stood still, the load generator included).

`Watch` is a context manager; its `figures()` are added to the setup's figures.
"""

from __future__ import annotations

import threading
import time
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

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
class Heartbeat:
    """A thread that sleeps `every` seconds at a time and keeps the longest oversleep."""

    every: float = HEARTBEAT_SECONDS
    longest: float = 0.0
    long_pauses: list[tuple[float, float]] = field(default_factory=list)  # (ended at, s)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.every):
            now = time.monotonic()
            self.note(now - last - self.every, time.time())
            last = now

    def note(self, pause: float, ended_at: float) -> None:
        self.longest = max(self.longest, pause)
        if pause >= LONG_PAUSE_SECONDS:
            self.long_pauses.append((round(ended_at, 3), round(pause, 3)))


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
            "pause_ms": round(1000 * self.heartbeat.longest, 1),
            "long_pauses": self.heartbeat.long_pauses,
        }
