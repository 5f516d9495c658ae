"""The single sign-on rules of the domain: SO1_OIDC_ROLE_MAP parsed, the highest mapped role
chosen, and a new person's handle made from an email."""

from __future__ import annotations

import pytest

from so1.domain.access import Role
from so1.domain.identity import handle_for_email, parse_role_map, role_from_groups

MAP = parse_role_map(" sre=responder , security=security,admins=admin,oncall=deployer,")


def test_the_role_map_parses_group_role_pairs() -> None:
    assert MAP == {
        "sre": Role.RESPONDER,
        "security": Role.SECURITY,
        "admins": Role.ADMIN,
        "oncall": Role.DEPLOYER,
    }
    assert parse_role_map("") == {}


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (("sre",), Role.RESPONDER),
        (("sre", "oncall"), Role.DEPLOYER),
        (("security", "sre", "oncall"), Role.SECURITY),
        (("marketing", "admins", "sre"), Role.ADMIN),
        (("marketing",), None),
        ((), None),
    ],
)
def test_the_highest_mapped_role_wins(groups: tuple[str, ...], expected: Role | None) -> None:
    assert role_from_groups(groups, MAP) is expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("sre", "'sre' is not group=role"),
        ("=responder", "'=responder' is not group=role"),
        ("sre=", "'sre=' is not group=role"),
        ("sre=boss", "'boss' in 'sre=boss' is not a role"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_role_map(bad)


def test_a_new_handle_comes_from_the_email_and_is_unique() -> None:
    assert handle_for_email("New.Comer@example.test", set()) == "new.comer"
    assert handle_for_email("ana+sso@example.test", {"ana-sso"}) == "ana-sso-2"
    assert handle_for_email("@example.test", set()) == "person"
