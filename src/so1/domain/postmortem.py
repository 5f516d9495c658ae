"""The postmortem of an incident: the analyst's structured draft, its markdown, and where it
stands in review (draft → in review → published)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class AnalysisMethod(enum.StrEnum):
    """How the draft analyses the cause (the seed's ``analysis_method``)."""

    FIVE_WHYS = "5_whys"
    FISHBONE = "fishbone"
    TIMELINE_ONLY = "timeline_only"


class PostmortemStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class Postmortem:
    incident_id: str
    status: PostmortemStatus
    method: str
    draft: dict[str, Any]
    markdown: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    published_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionItem:
    """Follow-up work: from a postmortem (linked to the cause it addresses) or a SEV4 ticket."""

    id: int
    title: str
    status: str  # open, done, dropped
    priority: str
    created_at: datetime
    incident_id: str | None = None
    alert_id: str | None = None
    owner: str | None = None
    due_date: date | None = None

    def overdue(self, today: date) -> bool:
        return self.status == "open" and self.due_date is not None and self.due_date < today
