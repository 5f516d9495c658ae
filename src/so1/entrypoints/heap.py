"""The start-up heap of a long-running SO1 process, kept out of the garbage collector's way.

A server or worker holds a few hundred thousand objects from its imports (FastAPI, pydantic,
SQLAlchemy, the knowledge files) that live as long as the process. CPython's oldest-generation
collection walks all of them: under load it ran about once a second and stopped the process
for 100-150 ms each time on a 2-core machine, which set the intake's p99. ``gc.freeze()``
moves the objects alive after start-up out of every collection (CPython's advice for
long-running servers); later objects are collected as before, and such a collection then took
under 1 ms (docs/scaling.md, "Garbage-collection pauses").
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then freeze the rest; the objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
