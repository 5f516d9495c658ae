"""The runbook's severity table: SEV0-4 with criteria, response time and commander role."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta


class Severity(enum.StrEnum):
    SEV0 = "SEV0"
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """0 is the most severe."""
        return int(self.value[-1])


@dataclass(frozen=True, slots=True)
class SeverityLevel:
    severity: Severity
    criteria: str
    response_time: timedelta | None  # None: best effort
    commander_role: str
    status_page: bool  # customer communication required


SEVERITY_TABLE: dict[Severity, SeverityLevel] = {
    Severity.SEV0: SeverityLevel(
        Severity.SEV0,
        "Complete outage, data loss, security breach",
        timedelta(0),
        "Engineering lead + Executive",
        status_page=True,
    ),
    Severity.SEV1: SeverityLevel(
        Severity.SEV1,
        "Major feature down, significant user impact",
        timedelta(minutes=5),
        "Senior engineer",
        status_page=True,
    ),
    Severity.SEV2: SeverityLevel(
        Severity.SEV2,
        "Degraded performance, moderate impact",
        timedelta(minutes=15),
        "On-call engineer",
        status_page=False,
    ),
    Severity.SEV3: SeverityLevel(
        Severity.SEV3,
        "Minor issues, workarounds available",
        timedelta(hours=1),
        "On-call engineer",
        status_page=False,
    ),
    Severity.SEV4: SeverityLevel(
        Severity.SEV4,
        "Cosmetic issues, no functional impact",
        None,
        "Any engineer",
        status_page=False,
    ),
}
