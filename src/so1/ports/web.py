"""Port for web sign-in: server secrets and one-time login links."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class WebRepository(Protocol):
    def secret(self, name: str, at: datetime) -> str: ...
    def reseal_secrets(self) -> int:
        """Write every server secret again with the current key; returns how many."""
        ...

    def add_link(
        self, token_hash: str, key_id: str, expires_at: datetime, at: datetime
    ) -> None: ...
    def use_link(self, token_hash: str, at: datetime) -> str | None: ...
