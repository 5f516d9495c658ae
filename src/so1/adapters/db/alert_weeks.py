"""The triage worker's statements on PostgreSQL's partitioned alerts, keyed by the whole
primary key (``id``, ``stored_at``): one statement a batch, one primary-key probe an alert.

The same statements by id alone (``id IN (...)``, one statement for a batch) are planned
from the partition's statistics. Each week's partition starts empty and, under load, grows
faster than autovacuum analyzes it; meanwhile PostgreSQL guessed that a list of 100 ids
matched half the partition and scanned all of it, comparing every row with every id. At
20,000 rows a claim took 50-100 ms of the database's CPU, longer as the week filled, and the
triage connection cost the database more than intake did. Keyed by the primary key, an
alert is one probe of one partition's primary key (the other weeks pruned when the
statement starts), whatever the statistics say.

The week of an alert is known from the rows a unit of work has read (``KnownWeeks``); an
alert whose week it has not read goes by id alone, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, String, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from so1.adapters.db import intake_tables as it
from so1.adapters.db.alert_sql import STATE_IF_GIVEN, claimable_condition

a = it.alerts
_IDS = bindparam("p_ids", type_=ARRAY(String))
_WEEKS = bindparam("p_stored_at", type_=ARRAY(DateTime(timezone=True)))
_INCIDENTS = bindparam("p_incidents", type_=ARRAY(String))
# One row per alert of the batch: PostgreSQL joins it to the table by a nested loop of
# primary-key probes (or, for a partition too small to matter, a hash join).
_KEYS = func.unnest(_IDS, _WEEKS).table_valued("id", "stored_at").render_derived(name="k")
_PAIRS = func.unnest(_IDS, _WEEKS, _INCIDENTS).table_valued("id", "stored_at", "incident")
_TO_INCIDENT = _PAIRS.render_derived(name="k")
_BY_KEY = (a.c.id == _KEYS.c.id) & (a.c.stored_at == _KEYS.c.stored_at)


def _claimable(stale: bool) -> Any:
    query = select(a.c.id).join(_KEYS, _BY_KEY).where(claimable_condition(stale))
    return query.with_for_update(of=a, skip_locked=True)


_CLAIMABLE = {stale: _claimable(stale) for stale in (False, True)}
_CLAIM = (
    update(a)
    .where(_BY_KEY)
    .values(triage_state="processing", triage_claimed_at=bindparam("p_now"))
    .returning(*a.c)
)
_FINISH = update(a).where(_BY_KEY).values(triage_state=bindparam("p_state"))
_ATTACH = (
    update(a)
    .where(a.c.id == _TO_INCIDENT.c.id, a.c.stored_at == _TO_INCIDENT.c.stored_at)
    .values(incident_id=_TO_INCIDENT.c.incident, triage_state=STATE_IF_GIVEN)
)

Keys = dict[str, list[Any]]  # the batch's ids and weeks, in the same order


class KnownWeeks:
    """The week (``stored_at``) of each alert a unit of work has read."""

    def __init__(self) -> None:
        self._stored_at: dict[str, datetime] = {}

    def learn(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        for row in rows:
            self._stored_at[row["id"]] = row["stored_at"]

    def keys(self, alert_ids: Sequence[str]) -> Keys | None:
        """The alerts' keys as parameters, or None when the week of one is unknown."""
        known = self._stored_at
        if not all(alert_id in known for alert_id in alert_ids):
            return None
        return {"p_ids": list(alert_ids), "p_stored_at": [known[n] for n in alert_ids]}


def claimable(conn: Connection, keys: Keys, stale_before: datetime | None = None) -> list[str]:
    """The ids of these alerts still waiting (or, with ``stale_before``, claimed before it),
    locked, skipping those another transaction holds."""
    params = keys if stale_before is None else {**keys, "p_stale": stale_before}
    return list(conn.execute(_CLAIMABLE[stale_before is not None], params).scalars())


def claim(conn: Connection, keys: Keys, now: datetime) -> list[Mapping[Any, Any]]:
    return list(conn.execute(_CLAIM, {**keys, "p_now": now}).mappings())


def finish(conn: Connection, keys: Keys, state: str) -> None:
    conn.execute(_FINISH, {**keys, "p_state": state})


def attach(
    conn: Connection, keys: Keys, incidents: Sequence[str], state: str | None = None
) -> None:
    """Each alert to its incident (``incidents`` in the order of the keys); with ``state``,
    its triage ends in that state."""
    conn.execute(_ATTACH, {**keys, "p_incidents": list(incidents), "p_state": state})


def only(keys: Keys, alert_ids: set[str]) -> Keys:
    """The keys of those of the alerts in ``alert_ids``."""
    kept = [n for n, alert_id in enumerate(keys["p_ids"]) if alert_id in alert_ids]
    return {name: [values[n] for n in kept] for name, values in keys.items()}
