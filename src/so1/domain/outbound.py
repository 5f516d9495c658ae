"""Which addresses SO1 may call on a user's behalf (a service's ``health_url``): never the
inside of its own network unless an admin allowed it (``SO1_OUTBOUND_ALLOW``), pure.

Refused: loopback, link-local (cloud metadata at 169.254.169.254), private, shared (CGNAT),
multicast, unspecified and reserved addresses, in IPv4 and IPv6, an IPv4 address carried in
IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo) judged as the IPv4 address it carries. A name is
judged by every address it resolves to: one refused address refuses the name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Allowed networks and host names, on top of "the public internet only"."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> OutboundPolicy:
        """``"127.0.0.1/32, ::1, health.internal"``; raises ValueError naming a bad entry."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not _looks_like_host(entry):
                    raise ValueError(
                        f"'{entry}' is neither a CIDR, an address nor a host name"
                    ) from None
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, host: str, addresses: Iterable[str]) -> str | None:
        """Why a connection to ``host`` (resolved to ``addresses``) is refused, or None."""
        if host.lower().rstrip(".") in self.hosts:
            return None
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        if not found:
            return f"{host} resolves to no address"
        for address in found:
            kind = inside_kind(address)
            if kind and not any(_within(address, n) for n in self.networks):
                return f"{host} resolves to {address}, a {kind} address (SO1_OUTBOUND_ALLOW)"
        return None


def inside_kind(address: IPAddress) -> str | None:
    """What makes ``address`` an inside one ("loopback", "private", ...), or None."""
    address = _carried_ipv4(address) or address
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-public"


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    teredo = address.teredo
    return address.ipv4_mapped or address.sixtofour or (teredo[1] if teredo else None)


def _within(address: IPAddress, network: Network) -> bool:
    carried = _carried_ipv4(address)
    return address in network or (carried is not None and carried in network)


def _looks_like_host(entry: str) -> bool:
    labels = entry.rstrip(".").split(".")
    return all(label and all(c.isalnum() or c == "-" for c in label) for label in labels)
