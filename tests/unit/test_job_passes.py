"""What a job runner says about its passes: counted, the last failure kept until one works."""

from __future__ import annotations

import time

from so1.adapters.jobs.threads import ThreadJobRunner
from so1.ports import Job, JobState


def after_pass(runner: ThreadJobRunner, number: int) -> JobState:
    """Wake the job and wait until its pass ``number`` has finished."""
    runner.wake("triage")
    deadline = time.monotonic() + 5
    while (state := runner.states()[0]).passes < number:
        assert time.monotonic() < deadline, state
        time.sleep(0.01)
    return state


def test_a_failing_job_is_reported_until_a_pass_works() -> None:
    outcomes: list[Exception | None] = [RuntimeError("table locked"), RuntimeError("again"), None]

    def run() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    runner = ThreadJobRunner([Job("triage", run, every_seconds=3600)])
    assert runner.states() == [JobState(name="triage", alive=False)]
    runner.start()
    try:
        first = after_pass(runner, 1)
        assert (first.alive, first.failures_in_a_row) == (True, 1)
        assert first.last_error == "RuntimeError: table locked"
        second = after_pass(runner, 2)
        assert (second.failures_in_a_row, second.last_error) == (2, "RuntimeError: again")
        healthy = after_pass(runner, 3)
        assert (healthy.failures_in_a_row, healthy.last_error) == (0, None)
        assert healthy.last_started_at is not None and healthy.last_finished_at is not None
        assert healthy.last_started_at <= healthy.last_finished_at
    finally:
        runner.stop()
    assert runner.states()[0].alive is False
