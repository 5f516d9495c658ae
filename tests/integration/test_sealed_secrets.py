"""With SO1_SECRET_KEY set, the secrets SO1 keeps in its database are sealed there and used as
before; `seal-secrets` seals what was stored in clear and moves secrets to a new key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from so1.adapters.clock import FixedClock
from so1.adapters.db.secret_box import new_key
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.alerts import AlertSource
from so1.errors import Unavailable
from so1.services.access import web_sessions
from so1.services.incidents.recording import Actor
from so1.services.intake.integrations import add_integration, list_integrations, reseal_secrets
from tests.conftest import make_key

SECRET = "whsec_0123456789abcdef"


@contextmanager
def keyed(db_url: str, clock: FixedClock, key: str | None) -> Iterator[Container]:
    built = build_container(
        Settings(database_url=db_url, db_pool_size=2, auth_cache_seconds=0, secret_key=key),
        clock=clock,
    )
    try:
        yield built
    finally:
        built.close()


def stored(container: Container) -> list[str]:
    with container.engine.connect() as conn:
        found = list(conn.execute(text("SELECT secret FROM integrations")).scalars())
        found += conn.execute(text("SELECT value FROM server_secrets")).scalars()
    return [str(v) for v in found]


def test_secrets_are_sealed_at_rest_and_work_as_before(
    container: Container, db_url: str, clock: FixedClock
) -> None:
    key = new_key()
    with keyed(db_url, clock, key) as sealed:
        add_integration(sealed.uow, clock, Actor("t"), AlertSource.DATADOG, "prod", SECRET)
        token = make_key(sealed, Scope.READ)
        _, cookie = web_sessions.start_with_key(sealed.uow, clock, token, None)
        assert web_sessions.from_cookie(sealed.uow, clock, cookie) is not None
        assert [i.secret for i in list_integrations(sealed.uow)] == [SECRET]
        raw = stored(sealed)
        assert len(raw) == 2 and all(v.startswith("fernet:") for v in raw)
        assert all(SECRET not in v for v in raw)

    with (
        keyed(db_url, clock, None) as keyless,  # a server started without the key
        pytest.raises(Unavailable, match="SO1_SECRET_KEY is not set"),
    ):
        list_integrations(keyless.uow)


def test_seal_secrets_seals_clear_ones_and_moves_to_a_new_key(
    container: Container, db_url: str, clock: FixedClock
) -> None:
    add_integration(container.uow, clock, Actor("t"), AlertSource.SENTRY, "prod", SECRET)
    web_sessions.start_with_key(container.uow, clock, make_key(container, Scope.READ), None)
    assert SECRET in stored(container)  # no key yet: in clear

    old, new = new_key(), new_key()
    with keyed(db_url, clock, old) as first:
        assert [i.secret for i in list_integrations(first.uow)] == [SECRET]  # clear still reads
        assert reseal_secrets(first.uow, clock, Actor("t")) == {
            "integrations": 1,
            "server_secrets": 1,
        }
        assert all(v.startswith("fernet:") for v in stored(first))
    with keyed(db_url, clock, f"{new},{old}") as rotating:
        reseal_secrets(rotating.uow, clock, Actor("t"))
    with keyed(db_url, clock, new) as only_new:
        assert [i.secret for i in list_integrations(only_new.uow)] == [SECRET]
        with only_new.uow(read_only=True) as uow:
            resealed = uow.audit.search(10, 0, action="secrets.resealed")
        assert len(resealed) == 2
