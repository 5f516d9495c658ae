"""Fakes of what the process runs on (ports/runtime.py, ports/store.py): a clock that moves
only when told, a job runner that remembers what it was woken for, health checks, the
idempotency store, and a background that runs work at once (so a test sees its outcome)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from so1.ports import Job, JobState, StoredResponse

IDEMPOTENCY_KEEP = timedelta(hours=24)  # as adapters/db/idempotency.py
LEASE = timedelta(minutes=5)


class FakeClock:
    def __init__(self, at: datetime = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)) -> None:
        if at.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


class FakeJobRunner:
    """Runs no thread: ``run_woken()`` runs one pass of each job woken since the last call."""

    def __init__(self, jobs: list[Job] | None = None) -> None:
        self.jobs = {j.name: j for j in jobs or []}
        self.woken: list[str] = []
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def states(self) -> list[JobState]:
        return [JobState(name, self.running) for name in self.jobs]

    def wake(self, name: str) -> None:
        self.woken.append(name)

    def run_woken(self) -> list[str]:
        ran, self.woken = self.woken, []
        for name in dict.fromkeys(ran):
            self.jobs[name].run()
        return ran


class FakeHealthCheck:
    """A dependency check that answers what it is set to (``ok`` unless told otherwise)."""

    def __init__(self, answer: str = "ok") -> None:
        self.answer = answer

    def __call__(self) -> str:
        return self.answer


class InlineBackground:
    """``DeployerDeps.background``: runs the work at once and remembers it ran."""

    def __init__(self) -> None:
        self.ran = 0

    def __call__(self, work: Callable[[], None]) -> None:
        self.ran += 1
        work()


class FakeIdempotencyStore:
    """Claims by (principal, key), as ``SqlIdempotencyStore``: an answer replays for KEEP, an
    unanswered claim is taken over after LEASE, a release forgets only an unanswered claim."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._answers: dict[tuple[str, str], StoredResponse] = {}

    def claim(self, principal: str, key: str, request_hash: str, now: datetime) -> str | None:
        mine = (principal, key)
        held = self._claims.get(mine)
        if held is not None:
            answered = mine in self._answers
            if held[1] >= now - IDEMPOTENCY_KEEP and (answered or held[1] >= now - LEASE):
                return held[0]
        self._claims[mine] = (request_hash, now)
        self._answers.pop(mine, None)
        return None

    def stored(self, principal: str, key: str) -> StoredResponse | None:
        return self._answers.get((principal, key))

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        if (principal, key) in self._claims:
            self._answers[(principal, key)] = response

    def release(self, principal: str, key: str) -> None:
        if (principal, key) not in self._answers:
            self._claims.pop((principal, key), None)
