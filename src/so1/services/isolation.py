"""Background passes take each incident (or item) on its own: one that fails (a bad record, a
template error, an outside system's surprise) is logged with its id and skipped until the
next pass, and the pass goes on with the others. A failure is never allowed to stop the
runbook clocks, escalation or drafting for every other incident."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

log = logging.getLogger("so1.worker")

T = TypeVar("T")


def each(
    what: str, items: Iterable[T], key: Callable[[T], object], work: Callable[[T], int]
) -> int:
    """``work`` on every item, summing what it returns; a failing item counts 0."""
    done = 0
    for item in items:
        try:
            done += work(item)
        except Exception:
            log.exception("%s failed for %s; skipped until the next pass", what, key(item))
    return done


def guarded(what: str, key: object, work: Callable[[], T], fallback: T) -> T:
    """``work()``, or ``fallback`` (logged with ``key``) when it raises."""
    try:
        return work()
    except Exception:
        log.exception("%s failed for %s; skipped until the next pass", what, key)
        return fallback
