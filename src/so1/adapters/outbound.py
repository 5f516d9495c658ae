"""Outbound HTTP that cannot reach inside: an httpx transport whose connections go only to
addresses the outbound policy (domain/outbound.py, ``SO1_OUTBOUND_ALLOW``) allows.

The check runs when a connection is opened, on the addresses the name resolves to at that
moment, and the connection is made to one of exactly those addresses (no second lookup), so a
name that resolved to a public address when it was saved and to 127.0.0.1 now (DNS rebinding)
is refused. Every connection is checked, so a redirect cannot lead inside either. TLS still
verifies the certificate against the name in the URL (httpcore sends it as SNI).
"""

from __future__ import annotations

import socket
import typing
from collections.abc import Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from so1.domain.outbound import OutboundPolicy

Resolver = Callable[[str, int], list[str]]


class OutboundRefused(httpcore.ConnectError):
    """A connection the outbound policy refuses (httpx raises it as ConnectError)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host`` (an address is itself)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, policy: OutboundPolicy, resolver: Resolver = resolve) -> None:
        self._policy = policy
        self._resolve = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port)
        refused = self._policy.refusal(host, addresses)
        if refused:
            raise OutboundRefused(f"refused: {refused}")
        error: Exception = OutboundRefused(f"refused: {host} resolves to no address")
        for address in addresses:  # exactly the addresses that were checked
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ARG002 - the interface's
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.NetworkStream:
        raise OutboundRefused(f"refused: a unix socket ({path}) is never an outbound target")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose pool connects through ``GuardedBackend``."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver = resolve) -> None:
        super().__init__()
        # The only seam httpx offers for the connection step is httpcore's network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=GuardedBackend(policy, resolver),
        )


def guarded_client(
    policy: OutboundPolicy, timeout: float, resolver: Resolver = resolve, **options: typing.Any
) -> httpx.Client:
    """A client for user-supplied URLs: guarded, never following redirects."""
    return httpx.Client(
        transport=GuardedTransport(policy, resolver),
        timeout=timeout,
        follow_redirects=False,
        **options,
    )


def refused_by(exc: BaseException) -> str | None:
    """The policy's reason when ``exc`` (an httpx error) is a refused connection."""
    cause = exc.__cause__ if isinstance(exc, httpx.ConnectError) else None
    return str(cause) if isinstance(cause, OutboundRefused) else None


class UrlChecker:
    """The check a URL gets when it is saved (``health_url``): its host resolved now."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver = resolve) -> None:
        self._policy = policy
        self._resolve = resolver

    def refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        addresses = self._resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        if not addresses:
            return None  # not resolvable now: judged again at every request
        return self._policy.refusal(host, addresses)
