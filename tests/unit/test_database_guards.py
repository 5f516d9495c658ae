"""Guards on stopping database sessions, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from so1.domain.database import Caller, FailoverClock, Session, Signal, refusal

NOW = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
ME = Caller(pid=100, superuser=False, signal_backend=False, member_of=frozenset({"app"}))


def session(
    pid: int = 7, user: str = "app", kind: str = "client backend", su: bool = False
) -> Session:
    return Session(
        pid, user, "api", "active", kind, NOW - timedelta(minutes=9), None, None, "SELECT 1", su
    )


def test_guards() -> None:
    assert refusal(session(pid=100), ME, Signal.CANCEL, None, NOW) == "that is SO1's own connection"
    assert "autovacuum" in str(
        refusal(session(kind="autovacuum worker"), ME, Signal.CANCEL, None, NOW)
    )
    assert "superuser" in str(
        refusal(session(su=True, user="postgres"), ME, Signal.CANCEL, None, NOW)
    )
    assert "pg_signal_backend" in str(
        refusal(session(user="billing"), ME, Signal.CANCEL, None, NOW)
    )
    assert refusal(session(), ME, Signal.CANCEL, None, NOW) is None  # a member of app


def test_terminate_only_after_a_cancel_had_time() -> None:
    assert "cancel the query first" in str(refusal(session(), ME, Signal.TERMINATE, None, NOW))
    soon = refusal(session(), ME, Signal.TERMINATE, NOW - timedelta(seconds=2), NOW)
    assert soon == "the cancel was 2 s ago; wait 3 s more"
    assert refusal(session(), ME, Signal.TERMINATE, NOW - timedelta(seconds=6), NOW) is None
    assert refusal(session(), ME, Signal.TERMINATE, None, NOW, force=True) is None
    assert refusal(session(pid=100), ME, Signal.TERMINATE, None, NOW, force=True) is not None


def test_failover_clock() -> None:
    clock = FailoverClock(NOW)
    assert clock.remaining(NOW + timedelta(minutes=4)) == timedelta(minutes=6)
    assert not clock.overdue(NOW + timedelta(minutes=9))
    assert clock.overdue(NOW + timedelta(minutes=10))
    assert clock.remaining(NOW + timedelta(hours=1)) == timedelta(0)
