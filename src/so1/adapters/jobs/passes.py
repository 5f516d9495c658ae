"""What each job's passes did in this process, for `GET /v1/system` and `so1 status`."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from so1.ports import JobState

_ERROR_CHARS = 300


class PassLog:
    """Counts one job's passes and keeps the last one's outcome (thread-safe)."""

    def __init__(self, name: str) -> None:
        self._state = JobState(name=name, alive=False)
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self._state = replace(self._state, last_started_at=datetime.now(UTC))

    def finished(self, error: BaseException | None = None) -> None:
        with self._lock:
            state = self._state
            if error is None:
                failures, text = 0, None
            else:
                failures = state.failures_in_a_row + 1
                text = f"{type(error).__name__}: {error}"[:_ERROR_CHARS]
            self._state = replace(
                state,
                passes=state.passes + 1,
                last_finished_at=datetime.now(UTC),
                last_error=text,
                failures_in_a_row=failures,
            )

    def state(self, alive: bool) -> JobState:
        with self._lock:
            return replace(self._state, alive=alive)
