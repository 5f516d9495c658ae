"""Port for web sign-in: server secrets, one-time login links and sessions."""

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
    def add_session(
        self, token_hash: str, key_id: str, expires_at: datetime, at: datetime
    ) -> None: ...
    def session_key(self, token_hash: str, at: datetime) -> str | None:
        """The key id of a live session (not revoked, not expired), or None."""
        ...

    def revoke_session(self, token_hash: str, at: datetime) -> bool:
        """End the session; False when it was not live."""

    def revoke_sessions_of(self, key_ids: list[str], at: datetime) -> int:
        """End every live session signed in with one of ``key_ids``; how many ended."""
        ...
