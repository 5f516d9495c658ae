"""Limits on free-form JSON taken from outside (alert details and labels, vendor payloads,
custom details, catalog config, incident impact, agent inputs), checked before anything is
stored:

- at most MAX_DEPTH levels of nesting (``{}`` is one level): deeper values made the intake
  fail with a RecursionError and the reads fail to serialise;
- at most MAX_BYTES of JSON per field (PagerDuty's own cap on an event);
- numbers must be finite: ``NaN``, ``Infinity`` and floats beyond the double range (``1e400``
  reads as infinity) are refused, so SQLite (which would store them) and PostgreSQL (which
  refuses them) behave alike.

Every walk here is iterative, so no input can exhaust the interpreter's stack. ``fold_deep``
is the other side: what was stored before these limits is still served, with anything
nested past FOLD_DEPTH handed back as its JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
MAX_BYTES = 512 * 1024
FOLD_DEPTH = 64  # reads: deeper parts come back as JSON text (serialisers stop near 255)
_PATH_SHOWN = 80


def json_problem(value: object, field: str, *, text: bool = True) -> str | None:
    """Why ``value``, found at ``field``, cannot be taken, naming where; None when it can.
    With ``text``, strings the databases cannot store (NUL, lone surrogates) are refused too
    (vendor payloads instead have them replaced, see domain.alerts.storable)."""
    if flat_text(value, text):
        return None
    return walked_problem(value, field, text=text)


def walked_problem(value: object, field: str, *, text: bool = True) -> str | None:
    """``json_problem`` by the full walk (every value, its depth, then the size)."""
    for item, where, depth in _walk(value, field):
        if depth > MAX_DEPTH:
            return f"{_short(where)} nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, float) and not math.isfinite(item):
            return f"{_short(where)} is not a finite number (NaN, Infinity or out of range)"
        if text and isinstance(item, str) and not storable_text(item):
            return f"{_short(where)} contains a NUL character or a lone surrogate"
    if isinstance(value, dict | list) and _size(value) > MAX_BYTES:
        return f"{field} is larger than {MAX_BYTES // 1024} KiB of JSON"
    return None


def storable_text(text: str) -> bool:
    """PostgreSQL refuses NUL; neither database can store lone UTF-16 surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def flat_text(value: object, text: bool) -> bool:
    """A quick yes for the common case: an object of short strings (labels, most details),
    which no limit can catch. Anything else (or a doubt) takes the full walk.

    A character takes at most 6 bytes of JSON (``\\u001f``), a member 6 more (quotes, colon,
    comma)."""
    if type(value) is not dict:
        return False
    size = 2
    for key, item in value.items():
        if type(key) is not str or type(item) is not str:
            return False
        if text and not (storable_text(key) and storable_text(item)):
            return False
        size += 6 * (len(key) + len(item) + 1)
    return size <= MAX_BYTES


def _walk(value: object, field: str) -> Iterator[tuple[object, str, int]]:
    """Every value and key inside ``value`` with its path and depth (containers count from 1;
    a key is reported at its object's depth)."""
    stack: list[tuple[object, str, int]] = [(value, field, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            yield item, where, depth
            for key, child in item.items():
                yield key, where, depth
                stack.append((child, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            yield item, where, depth
            stack.extend((child, f"{where}[{n}]", depth + 1) for n, child in enumerate(item))
        else:
            yield item, where, depth - 1


def _size(value: object) -> int:
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(encoded.encode("utf-8", "replace"))


def _short(path: str) -> str:
    if len(path) <= _PATH_SHOWN:
        return path
    return f"{path[: _PATH_SHOWN // 2]}…{path[-_PATH_SHOWN // 3 :]}"


def fold_deep(value: object) -> object:
    """``value`` with every container nested past FOLD_DEPTH replaced by its JSON text: what
    was stored before the limits can still be listed and serialised. Shallow values (all that
    the limits let in) come back unchanged, as the same object."""
    if not isinstance(value, dict | list) or not _deeper_than(value, FOLD_DEPTH):
        return value
    return _folded(value)


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _folded(value: object) -> object:
    """A copy with containers at FOLD_DEPTH + 1 replaced by their JSON text (iteratively)."""
    root: dict[str, Any] = {}
    stack: list[tuple[object, Any, object, int]] = [(value, root, "value", 1)]
    while stack:
        item, parent, slot, depth = stack.pop()
        copy: Any = item
        if isinstance(item, dict | list) and depth > FOLD_DEPTH:
            copy = json.dumps(item)
        elif isinstance(item, dict):
            copy = {}
            stack.extend((child, copy, key, depth + 1) for key, child in item.items())
        elif isinstance(item, list):
            copy = [None] * len(item)
            stack.extend((child, copy, n, depth + 1) for n, child in enumerate(item))
        parent[slot] = copy
    return root["value"]
