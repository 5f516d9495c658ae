"""What every inbound source adapter offers the intake service."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from so1.domain.alerts import AlertSource, ParsedDelivery


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """The raw request as received: header names lower-case, body bytes untouched."""

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class SourceAdapter(Protocol):
    source: AlertSource

    def precheck(self, request: InboundRequest) -> None:
        """Refuse before any secret is tried: missing or malformed auth headers
        (MalformedRequest → 400 or Unauthorized → 401), stale timestamps (Unauthorized)."""
        ...

    def verify(self, request: InboundRequest, secret: str) -> bool:
        """True when the request was signed with (or carries) ``secret``; constant time."""
        ...

    def parse(self, request: InboundRequest) -> ParsedDelivery:
        """Normalise the body; MalformedRequest / ValidationFailed name what is wrong."""
        ...


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
