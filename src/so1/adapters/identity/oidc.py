"""An OpenID Connect provider as an IdentityProvider: discovery (``/.well-known/openid-
configuration`` under the issuer), the authorization code flow with PKCE (S256), state and
nonce through Authlib's OAuth2 client (on httpx2, as Authlib wants), and the id_token
verified with joserfc against the provider's JWKS: signature, issuer, audience, nonce,
expiry (60 s of clock leeway).

Discovery and the JWKS are read on first use and kept; a token signed with a key id the kept
JWKS lacks reads the JWKS again once (the provider rotated its keys)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from so1.domain.identity import ProviderIdentity
from so1.errors import SignInRefused, Unavailable
from so1.ports import AuthorizationRequest

SCOPES = "openid email profile"
LEEWAY_SECONDS = 60
TOKEN_TIMEOUT_SECONDS = 10.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
_CLAIM_REASONS = {"iss": "wrong issuer", "aud": "wrong audience", "nonce": "nonce mismatch"}


class OidcProvider:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        role_claim: str,
        http: httpx.Client,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._role_claim = role_claim
        self._http = http
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(48)
        endpoint = self._endpoint("authorization_endpoint")
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return AuthorizationRequest(str(url), state, nonce, verifier)

    def identity(
        self, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        token = self._token(code, redirect_uri, code_verifier)
        claims = self._verified_claims(_id_token(token), nonce)
        wanted = (self._role_claim, "email", "email_verified")
        if any(name not in claims for name in wanted):  # a provider may keep them in userinfo
            claims = with_userinfo(claims, self._userinfo(token), (*wanted, "name"))
        groups = claims.get(self._role_claim) or []
        return ProviderIdentity(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            email=str(claims["email"]) if claims.get("email") else None,
            email_verified=claims.get("email_verified") in (True, "true"),
            name=str(claims["name"]) if claims.get("name") else None,
            groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (str(groups),),
        )

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self._client_id,
            client_secret=self._secret,
            scope=SCOPES,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method's name
            timeout=TOKEN_TIMEOUT_SECONDS,
        )

    def _token(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        with self._client(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    self._endpoint("token_endpoint"),
                    code=code,
                    code_verifier=code_verifier,
                    grant_type="authorization_code",
                )
            except OAuthError as exc:
                raise SignInRefused(
                    f"the identity provider refused the code ({exc.error})", "code refused"
                ) from None
            except (httpx2.HTTPStatusError, ValueError) as exc:  # e.g. a proxy's HTML 502
                raise SignInRefused(
                    f"the identity provider's token endpoint answered no token ({_why(exc)})",
                    "token endpoint answer not JSON",
                ) from None
            except httpx2.HTTPError as exc:
                raise Unavailable(f"the identity provider did not answer: {exc}") from None
        return dict(token)

    def _userinfo(self, token: dict[str, Any]) -> dict[str, Any]:
        """The userinfo endpoint's claims, asked with the access token (Authlib sends it as
        Bearer); a provider without one has none to give."""
        endpoint = self._discovery().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        client = OAuth2Client(client_id=self._client_id, token=token, timeout=TOKEN_TIMEOUT_SECONDS)
        try:
            with client:
                answer = client.get(endpoint)
                answer.raise_for_status()
                found = answer.json()
        except (httpx2.HTTPError, OAuthError, ValueError) as exc:
            raise SignInRefused(
                f"the identity provider's userinfo endpoint failed ({_why(exc)})",
                "userinfo failed",
            ) from None
        return found if isinstance(found, dict) else {}

    def _verified_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            decoded = self._decode(id_token)
            registry = jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self._client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
            )
            registry.validate(decoded.claims)
        except BadSignatureError:
            raise SignInRefused(
                "bad signature: the id_token does not match the provider's keys", "bad signature"
            ) from None
        except ExpiredTokenError:
            raise SignInRefused("the id_token has expired", "expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            reason = _CLAIM_REASONS.get(exc.claim, f"bad claim {exc.claim}")
            raise SignInRefused(f"the id_token was refused: {reason}", reason) from None
        except (JoseError, ValueError) as exc:
            raise SignInRefused(f"the id_token is not valid ({exc})", "bad id_token") from None
        return dict(decoded.claims)

    def _decode(self, id_token: str) -> jwt.Token:
        """Verified against the kept JWKS; a key id it lacks reads the JWKS again once, and a
        key id the provider does not publish at all is a bad signature."""
        try:
            return jwt.decode(id_token, self._jwks(), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            pass
        try:
            return jwt.decode(id_token, self._jwks(refresh=True), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            raise BadSignatureError() from None

    def _endpoint(self, name: str) -> str:
        value = self._discovery().get(name)
        if not isinstance(value, str):
            raise Unavailable(f"the identity provider's discovery document lacks {name}")
        return value

    def _discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                self._metadata = self._get_json(f"{self._issuer}/.well-known/openid-configuration")
            return self._metadata

    def _jwks(self, refresh: bool = False) -> KeySet:
        uri = self._endpoint("jwks_uri")
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(self._get_json(uri))  # type: ignore[arg-type]
            return self._keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = self._http.get(url)
            answer.raise_for_status()
            found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"the identity provider at {url} did not answer: {exc}") from None
        if not isinstance(found, dict):
            raise Unavailable(f"the identity provider at {url} sent no JSON object")
        return found


def with_userinfo(
    claims: dict[str, Any], userinfo: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    """The id_token's claims, with those of ``names`` it lacks taken from userinfo, when
    userinfo is about the same subject (OpenID Connect Core 5.3.2: else it must not be used).
    The id_token's own claims always win."""
    if userinfo.get("sub") != claims.get("sub"):
        return claims
    return {n: userinfo[n] for n in names if n in userinfo} | claims


def _id_token(token: dict[str, Any]) -> str:
    id_token = token.get("id_token")
    if not id_token:
        raise SignInRefused("the identity provider sent no id_token", "no id_token")
    return str(id_token)


def _why(exc: Exception) -> str:
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return str(exc)[:120]
