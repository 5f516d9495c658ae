"""API key format, hashing and validity (pure domain)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from so1.domain.access import (
    Scope,
    new_key,
    parse_scopes,
    secret_matches,
    split_token,
)

NOW = datetime(2024, 1, 15, tzinfo=UTC)


def test_token_format_and_entropy() -> None:
    issued = new_key("ci", frozenset({Scope.READ}), NOW)
    prefix, key_id, secret = issued.token.split("_", 2)
    assert prefix == "so1"
    assert key_id == issued.key.id
    assert len(key_id) == 16
    assert len(secret) >= 43  # 32 bytes of url-safe base64 = 256 bits
    assert secret not in issued.key.secret_hash
    assert new_key("ci", frozenset(), NOW).token != issued.token


def test_split_and_match() -> None:
    issued = new_key("ci", frozenset({Scope.READ}), NOW)
    parts = split_token(issued.token)
    assert parts is not None
    assert secret_matches(issued.key, parts[1])
    assert not secret_matches(issued.key, parts[1] + "x")


@pytest.mark.parametrize(
    "token", ["", "so1", "so1_abc_def", "xyz_0123456789abcdef_s", "so1_0123456789abcdef_"]
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    assert split_token(token) is None


def test_usability_expiry_and_revocation() -> None:
    key = new_key("ci", frozenset({Scope.READ}), NOW).key
    assert key.is_usable(NOW)
    expiring = replace(key, expires_at=NOW + timedelta(hours=1))
    assert expiring.is_usable(NOW + timedelta(minutes=59))
    assert not expiring.is_usable(NOW + timedelta(hours=1))
    assert not replace(key, revoked_at=NOW).is_usable(NOW)


def test_admin_implies_every_scope() -> None:
    admin = new_key("a", frozenset({Scope.ADMIN}), NOW).key
    reader = new_key("r", frozenset({Scope.READ}), NOW).key
    assert all(admin.allows(s) for s in Scope)
    assert reader.allows(Scope.READ)
    assert not reader.allows(Scope.WRITE)


def test_parse_scopes_names_unknown() -> None:
    assert parse_scopes(["read", "deploy"]) == {Scope.READ, Scope.DEPLOY}
    with pytest.raises(ValueError, match="unknown scope\\(s\\) root, superuser"):
        parse_scopes(["read", "superuser", "root"])
