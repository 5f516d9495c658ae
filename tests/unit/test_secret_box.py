"""Sealing stored secrets with Fernet: round trip, values stored in clear before a key was
set, a missing or wrong key named, and replacing a key."""

from __future__ import annotations

import pytest

from so1.adapters.db.secret_box import PREFIX, SecretBox, new_key, parse_keys
from so1.errors import Unavailable, ValidationFailed


def test_a_sealed_secret_opens_and_does_not_show_the_secret() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal("whsec_abc123")
    assert sealed.startswith(PREFIX) and "whsec_abc123" not in sealed
    assert box.seal("whsec_abc123") != sealed  # a fresh IV each time
    assert box.open(sealed) == "whsec_abc123"
    assert box.open("stored-in-clear") == "stored-in-clear"
    assert box.open_optional(None) is None and box.seal_optional(None) is None


def test_without_the_key_a_sealed_secret_says_what_is_missing() -> None:
    sealed = SecretBox([new_key()]).seal("s3cret")
    with pytest.raises(Unavailable, match="SO1_SECRET_KEY is not set"):
        SecretBox().open(sealed)
    with pytest.raises(Unavailable, match="not in SO1_SECRET_KEY"):
        SecretBox([new_key()]).open(sealed)
    assert SecretBox().seal("s3cret") == "s3cret"  # no key: stored in clear


def test_a_new_key_first_still_opens_what_the_old_one_sealed() -> None:
    old, new = new_key(), new_key()
    sealed_old = SecretBox([old]).seal("s3cret")
    both = SecretBox(parse_keys(f"{new}, {old}"))
    assert both.open(sealed_old) == "s3cret"
    assert SecretBox([new]).open(both.seal("s3cret")) == "s3cret"  # the first key seals


def test_a_bad_key_is_named_by_its_position() -> None:
    with pytest.raises(ValidationFailed, match="key 2 is not a Fernet key"):
        parse_keys(f"{new_key()},not-a-key")
    assert parse_keys(None) == [] and parse_keys(" , ") == []
