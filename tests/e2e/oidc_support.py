"""OpenID providers for the sign-in tests.

``oidc_provider``: panva's certified ``oidc-provider`` (tests/oidc_provider, installed by
``npm ci`` in ./scripts/test) on Node.js, on loopback, with fixed users (provider.mjs).
``through_provider``: a browser's way through its development login and consent forms, with
httpx. ``Forge``: a tiny provider of our own (discovery, JWKS, token endpoint) that hands out
the id_token a test crafted, signed with its key or another, for the refusal cases."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.e2e.test_processes import free_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc_provider"
CLIENT_ID = "so1"
CLIENT_SECRET = "so1-test-secret"
FORM = re.compile(r'<form[^>]*action="([^"]+)"')
INPUT = re.compile(r'<input[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?')


@contextmanager
def oidc_provider(
    redirect_uris: list[str], port: int | None = None, claims_in_userinfo: bool = False
) -> Iterator[str]:
    """The provider's issuer URL while it runs; fails (never skips) without Node.js or the
    installed package. ``claims_in_userinfo``: email, email_verified, name and groups only
    in the userinfo answer, not in the id_token (the provider's conforming default)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed; ./scripts/test needs it for the OpenID provider")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "oidc-provider is not installed: run ./scripts/test (npm ci in tests/oidc_provider)"
        )
    port = port or free_port()
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "SO1_REDIRECT_URIS": ",".join(redirect_uris)}
    if claims_in_userinfo:
        env["SO1_CLAIMS_IN_USERINFO"] = "1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [node, "provider.mjs"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        issuer = f"http://127.0.0.1:{port}"
        try:
            _wait_for(f"{issuer}/.well-known/openid-configuration", proc, log)
            yield issuer
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"oidc-provider exited with {proc.returncode}: {log.read().decode()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("oidc-provider did not start within 30 s")


def through_provider(authorize_url: str, login: str, callback_prefix: str) -> str:
    """Sign in as ``login`` at the provider's development forms (login, then consent) and
    return the callback URL the provider sends the browser back to."""
    with httpx.Client(timeout=10) as browser:
        location, answer = authorize_url, None
        for _ in range(12):
            if location.startswith(callback_prefix):
                return location
            if location:
                answer = browser.get(location)
            assert answer is not None
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                continue
            page = answer.text
            found = FORM.search(page)
            assert found is not None, page[-2000:]
            fields = dict(INPUT.findall(page))
            if "login" in fields:
                fields |= {"login": login, "password": "any"}
            answer = browser.post(urljoin(str(answer.url), found.group(1)), data=fields)
            location = ""
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
        raise AssertionError(f"the provider never sent the browser back to {callback_prefix}")


class Forge:
    """A provider of our own on loopback: discovery, JWKS (``key``'s public half) and a token
    endpoint answering any code with ``id_token`` (set by the test)."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "forge-1"})
        self.id_token = ""
        self.bodies: list[str] = []  # what the token endpoint was sent
        # set by a test: the token endpoint's raw answer (status, content type, body) instead
        self.token_answer: tuple[int, str, bytes] | None = None
        self.userinfo: dict[str, Any] | None = None  # set: discovery names /userinfo
        self.userinfo_auth: list[str] = []  # the Authorization headers userinfo was sent
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    self._json(forge.discovery())
                elif path == "/jwks":
                    self._json(KeySet([forge.key]).as_dict(private=False))
                elif path == "/userinfo" and forge.userinfo is not None:
                    forge.userinfo_auth.append(self.headers.get("authorization", ""))
                    self._json(forge.userinfo)
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                forge.bodies.append(body)
                if forge.token_answer is not None:
                    return self._raw(*forge.token_answer)
                self._json(
                    {"access_token": "at", "token_type": "Bearer", "id_token": forge.id_token}
                )

            def _json(self, data: Any, status: int = 200) -> None:
                self._raw(status, "application/json", json.dumps(data).encode())

            def _raw(self, status: int, content_type: str, raw: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self) -> dict[str, str]:
        found = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
        }
        if self.userinfo is not None:
            found["userinfo_endpoint"] = f"{self.issuer}/userinfo"
        return found

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        signer = key or self.key
        return jwt.encode({"alg": "RS256", "kid": signer.kid}, claims, signer)

    def claims(self, nonce: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "ana-123",
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
            "email": "ana@example.test",
            "email_verified": True,
            "groups": ["sre"],
        }
        return base | changes

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
