"""Who reviewed a postmortem, and the text that is published.

The runbook's review is a second reading: a reviewer ticked every review check on the
current version and neither wrote that version (its author: whoever asked for the draft, or
made the last edit) nor publishes it. ``SO1_POSTMORTEM_REVIEWERS`` sets how many reviewers
are needed. People are compared by ``Actor.holder`` (the key's person, else the key's
name)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from so1.domain.postmortem import Postmortem
from so1.errors import Conflict
from so1.services.incidents.recording import Actor

# The draft's own words (knowledge/postmortem.md.j2) that a published text no longer says.
DRAFT_BANNER = re.compile(r"_Blameless draft by the postmortem-analyst[^_]*_\n*")
DRAFT_PHRASES = {
    " (to confirm)": "",
    "; the meeting can add to this.": ".",
}


def author_of(found: Postmortem) -> str | None:
    """Who wrote the current version: kept with every draft and edit (older rows: the last
    edit's author)."""
    author = found.meta.get("author")
    if author:
        return str(author)
    revisions = found.meta.get("revisions") or []
    return str(revisions[-1]["replaced_by"]) if revisions else None


def tick_entry(actor: Actor, check: str, version: int, at: datetime) -> dict[str, Any]:
    return {
        "check": check,
        "by": actor.holder,
        "key": actor.name,
        "version": version,
        "at": at.isoformat(),
    }


def reviewers_of(found: Postmortem, checks: Iterable[str], publisher: str) -> list[str]:
    """The people who ticked every check on this version, other than its author and the
    publisher."""
    excluded = {author_of(found), publisher}
    current = [t for t in found.meta.get("ticks") or [] if t["version"] == found.version]
    ticked = [set(_tickers(current, check)) for check in checks]
    everyone = set.intersection(*ticked) if ticked else set()
    return sorted(everyone - excluded)


def require_reviewed(
    found: Postmortem, checks: dict[str, str], publisher: str, needed: int
) -> list[str]:
    """The reviewers; a Conflict naming who is missing and who ticked when too few."""
    reviewers = reviewers_of(found, checks, publisher)
    if len(reviewers) >= needed:
        return reviewers
    raise Conflict(_refusal(found, checks, publisher, needed))


def _refusal(found: Postmortem, checks: dict[str, str], publisher: str, needed: int) -> str:
    author = author_of(found)
    others = f"{author} (author of v{found.version})" if author else None
    if author == publisher:
        others = f"{author} (author of v{found.version}, publishing)"
    elif others:
        others += f" and {publisher} (publishing)"
    else:
        others = f"{publisher} (publishing)"
    ticks = found.meta.get("ticks") or []
    current = [t for t in ticks if t["version"] == found.version]
    ticked = "; ".join(
        f"{label}: {', '.join(_tickers(current, key)) or 'nobody'}" for key, label in checks.items()
    )
    people = "reviewer" if needed == 1 else "different reviewers"
    text = (
        f"publishing needs {needed} {people} other than {others} to tick every review check "
        f"of v{found.version}; ticked by: {ticked}"
    )
    if len(current) < len(ticks):
        text += ". Ticks on earlier versions do not count: the text changed since"
    return text


def ticked_by(found: Postmortem, check: str) -> list[str]:
    """Who ticked ``check`` on the current version."""
    current = [t for t in found.meta.get("ticks") or [] if t["version"] == found.version]
    return _tickers(current, check)


def _tickers(ticks: list[dict[str, Any]], check: str) -> list[str]:
    return list(dict.fromkeys(str(t["by"]) for t in ticks if t["check"] == check))


def published_text(markdown: str, reviewers: list[str], publisher: str, at: datetime) -> str:
    """The reviewed document without the draft's wording, saying who reviewed and published
    it."""
    signed = f"_Reviewed by {', '.join(reviewers)}; published by {publisher} on {at:%Y-%m-%d}._\n\n"
    text, banners = DRAFT_BANNER.subn(signed, markdown, count=1)
    if not banners:
        heading, newline, rest = text.partition("\n")
        text = f"{heading}{newline}\n{signed}{rest.lstrip(chr(10))}" if newline else text
    for phrase, replacement in DRAFT_PHRASES.items():
        text = text.replace(phrase, replacement)
    return text
