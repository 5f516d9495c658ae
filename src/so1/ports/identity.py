"""Port for single sign-on: an OpenID provider that starts a sign-in and, given the code the
browser brought back, returns who signed in, verified."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from so1.domain.identity import ProviderIdentity


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback must match (kept server-side)."""

    url: str
    state: str
    nonce: str
    code_verifier: str  # PKCE: its S256 challenge went in ``url``


class IdentityProvider(Protocol):
    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """The provider's authorization URL with a fresh state, nonce and PKCE challenge."""
        ...

    def identity(
        self, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        """Redeem the code and verify the id_token (signature by the provider's JWKS, issuer,
        audience, nonce, expiry); raises SignInRefused naming the reason."""
        ...
