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
        self,
        token_hash: str,
        key_id: str | None,
        expires_at: datetime,
        at: datetime,
        person: str | None = None,
    ) -> None:
        """A session signed in with a key, or (``key_id`` None) by ``person`` through SSO."""
        ...

    def session_owner(self, token_hash: str, at: datetime) -> tuple[str | None, str | None]:
        """``(key_id, person)`` of a live session (not revoked, not expired); (None, None)
        when there is none."""
        ...

    def revoke_person_sessions(self, handle: str, at: datetime) -> int:
        """End every live SSO session of ``handle``; how many ended."""
        ...

    def add_sign_in(
        self, state_hash: str, nonce: str, code_verifier: str, expires_at: datetime, at: datetime
    ) -> None:
        """A single sign-on under way: what its callback must match."""
        ...

    def use_sign_in(self, state_hash: str, at: datetime) -> tuple[str, str] | None:
        """``(nonce, code_verifier)`` of an unused, unexpired sign-in, marked used; None
        otherwise (unknown, expired or replayed)."""
        ...

    def revoke_session(self, token_hash: str, at: datetime) -> bool:
        """End the session; False when it was not live."""

    def revoke_sessions_of(self, key_ids: list[str], at: datetime) -> int:
        """End every live session signed in with one of ``key_ids``; how many ended."""
        ...
