"""Who an OpenID provider says signed in, and how their groups map to a role.

``role_from_groups`` is the rule for SO1_OIDC_ROLE_MAP: of the roles the person's groups
map to, the highest (viewer < responder < deployer < security < admin); None when no group
is mapped (the person then keeps the role they have)."""

from __future__ import annotations

from dataclasses import dataclass

from so1.domain.access import Role

ROLE_ORDER = list(Role)  # viewer first, admin last


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """The claims of a verified id_token (signature, issuer, audience, nonce, expiry)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    groups: tuple[str, ...] = ()


def parse_role_map(text: str) -> dict[str, Role]:
    """``sre=responder,security=security`` as {group: role}; raises ValueError naming a bad
    entry or an unknown role."""
    mapping: dict[str, Role] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        group, sep, role = (s.strip() for s in entry.partition("="))
        if not sep or not group or not role:
            raise ValueError(f"'{entry}' is not group=role")
        if role not in {r.value for r in Role}:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"'{role}' in '{entry}' is not a role; known: {known}")
        mapping[group] = Role(role)
    return mapping


def role_from_groups(groups: tuple[str, ...], role_map: dict[str, Role]) -> Role | None:
    """The highest role the groups map to; None when none is mapped."""
    mapped = [role_map[g] for g in groups if g in role_map]
    return max(mapped, key=ROLE_ORDER.index) if mapped else None


def handle_for_email(email: str, taken: set[str]) -> str:
    """A new person's handle from their email's local part (letters, digits, ``._-``), made
    unique with a number when taken."""
    local = email.split("@", 1)[0].lower()
    base = "".join(c if c.isalnum() or c in "._-" else "-" for c in local).strip("._-")
    base = (base or "person")[:90]
    handle, n = base, 2
    while handle in taken:
        handle, n = f"{base}-{n}", n + 1
    return handle
