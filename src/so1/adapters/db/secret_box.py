"""Secrets kept in the database (integration signing secrets, the cookie-signing key) are
sealed with Fernet (the ``cryptography`` package: AES-128-CBC with an HMAC-SHA256 tag) when
``SO1_SECRET_KEY`` is set. A sealed value is stored as ``fernet:<token>``; anything else is a
value stored in clear (before a key was set), read as it is and sealed the next time it is
written or by `so1 security seal-secrets`.

``SO1_SECRET_KEY`` holds one or more keys separated by commas: the first seals, every one
opens, so a key is replaced by putting the new one first, resealing, then dropping the old.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from so1.errors import Unavailable, ValidationFailed

PREFIX = "fernet:"


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(setting: str | None) -> list[str]:
    """The keys in a SO1_SECRET_KEY value; raises ValidationFailed naming a bad one."""
    keys = [k.strip() for k in (setting or "").split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ValidationFailed(
                f"SO1_SECRET_KEY: key {position} is not a Fernet key (32 url-safe base64-encoded"
                " bytes); make one with `so1 security new-key`"
            ) from None
    return keys


class SecretBox:
    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, value: str) -> str:
        if self._fernet is None:
            return value
        return PREFIX + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        if self._fernet is None:
            raise Unavailable(
                "stored secrets are encrypted and SO1_SECRET_KEY is not set; set it to the key"
                " they were sealed with"
            )
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise Unavailable(
                "a stored secret was sealed with a key that is not in SO1_SECRET_KEY"
            ) from None

    def open_optional(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored)

    def seal_optional(self, value: str | None) -> str | None:
        return None if value is None else self.seal(value)


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
