"""The words an alert carries, from every field the vendors use, capped.

Read in this order: the summary; the vendors' text fields wherever they sit in the details
(Sentry ``message``, ``title``, ``culprit``, ``metadata``; Datadog ``title``, ``body``,
``text``; Alertmanager ``annotations.summary`` and ``annotations.description``; PagerDuty
``summary`` and ``custom_details``; any ``description``); then every other detail, however
deeply nested and whatever its key (a key triage does not know is still read); then the
labels. Each field is cut at ``PER_FIELD`` characters and the whole at ``TOTAL``; what was cut
is said (``AlertText.cut``) so the rationale can say it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from so1.domain.alerts import Alert

PER_FIELD = 8 * 1024  # characters of one field
TOTAL = 32 * 1024  # characters of the alert's whole text
RELATED_TOTAL = 4 * 1024  # a related alert's text (there may be 50 of them)
MAX_DEPTH = 8  # nested details deeper than this are not read
NOT_TEXT = frozenset({"level", "severity", "priority"})  # the sender's urgency, read as the hint
SEPARATOR = " | "
VENDOR_FIELDS = (
    "message",
    "title",
    "body",
    "text",
    "description",
    "culprit",
    "annotations",
    "custom_details",
    "metadata",
)


@dataclass(frozen=True, slots=True)
class AlertText:
    """``joined``: the fields as "name=text" (the summary bare), separated by " | "."""

    joined: str
    fields: tuple[str, ...]  # the names read, in order
    cut: tuple[str, ...] = ()  # what was cut, in words

    def quote(self, start: int, end: int, width: int = 100) -> str:
        """The words around ``joined[start:end]`` within its field, for evidence."""
        begin = self.joined.rfind(SEPARATOR, 0, start)
        begin = 0 if begin < 0 else begin + len(SEPARATOR)
        stop = self.joined.find(SEPARATOR, end)
        stop = len(self.joined) if stop < 0 else stop
        left = max(begin, start - (width - (end - start)) // 2)
        right = min(stop, left + max(width, end - start))
        left = max(begin, min(left, right - width))
        piece = self.joined[left:right].strip()
        return f"{'...' if left > begin else ''}{piece}{'...' if right < stop else ''}"


def alert_text(alert: Alert, total: int = TOTAL) -> AlertText:
    """Every field of the alert with words in it, capped (see the module docstring)."""
    parts: list[str] = []
    names: list[str] = []
    cut: list[str] = []
    seen: set[str] = set()
    size = 0
    for name, value in _fields(alert):
        text = " ".join(value[: PER_FIELD * 2].split())  # whitespace runs count as one space
        if not text or text in seen:
            continue
        seen.add(text)
        if len(text) > PER_FIELD:
            cut.append(f"{name} has {len(value)} characters; read the first {PER_FIELD}")
            text = text[:PER_FIELD]
        part = text if name == "summary" else f"{name}={text}"
        if size + len(part) > total:
            cut.append(f"the alert's text passed {total} characters; read up to {name}")
            part = part[: max(0, total - size)]
            if part:
                parts.append(part)
                names.append(name)
            break
        parts.append(part)
        names.append(name)
        size += len(part) + len(SEPARATOR)
    return AlertText(SEPARATOR.join(parts), tuple(names), tuple(cut))


def _fields(alert: Alert) -> Iterator[tuple[str, str]]:
    yield "summary", alert.summary
    details = alert.details
    for key in VENDOR_FIELDS:
        if key in details:
            yield from _leaves(details[key], key, 1)
    for key, value in details.items():
        if key not in VENDOR_FIELDS and key not in NOT_TEXT:
            yield from _leaves(value, str(key), 1)
    for key, value in sorted(alert.labels.items()):
        yield key, value


def _leaves(value: object, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            yield path, ", ".join(value)
        else:
            for index, item in enumerate(value):
                yield from _leaves(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, str):
        yield path, value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, str(value)
