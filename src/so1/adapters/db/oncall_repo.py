"""People, teams, schedules (layers kept as JSON), overrides, time off, escalation policies."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, delete, insert, select, update

from so1.adapters.db import oncall_tables as ot, tables as t
from so1.domain.access import Role
from so1.domain.oncall import (
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Person,
    Restriction,
    Schedule,
    Seniority,
    Target,
    Team,
    Window,
)


def layer_to_json(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "members": list(layer.members),
        "rotation_start": layer.rotation_start.isoformat(),
        "shift_seconds": int(layer.shift.total_seconds()),
        "restrictions": [
            {
                "days": sorted(r.days),
                "start": r.start.isoformat("minutes"),
                "end": r.end.isoformat("minutes"),
            }
            for r in layer.restrictions
        ],
    }


def layer_from_json(data: dict[str, Any]) -> Layer:
    restrictions = tuple(
        Restriction(
            frozenset(r["days"]), time.fromisoformat(r["start"]), time.fromisoformat(r["end"])
        )
        for r in data.get("restrictions", [])
    )
    return Layer(
        data["name"],
        tuple(data["members"]),
        datetime.fromisoformat(data["rotation_start"]),
        timedelta(seconds=data["shift_seconds"]),
        restrictions,
    )


def _level_to_json(level: EscalationLevel) -> dict[str, Any]:
    return {
        "targets": [{"kind": x.kind, "name": x.name} for x in level.targets],
        "timeout_seconds": int(level.timeout.total_seconds()),
    }


def _level_from_json(data: dict[str, Any]) -> EscalationLevel:
    targets = tuple(Target(x["kind"], x["name"]) for x in data["targets"])
    return EscalationLevel(targets, timedelta(seconds=data["timeout_seconds"]))


def _window(row: RowMapping) -> Window:
    return Window(row["handle"], row["starts_at"], row["ends_at"], row["reason"], row["id"])


class SqlOnCallRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _upsert(self, table: Table, key: str, values: dict[str, Any]) -> bool:
        """Update by ``key`` or insert; True when the row is new."""
        column = table.c[key]
        changed = self._conn.execute(
            update(table).where(column == values[key]).values(values)
        ).rowcount
        if changed == 0:
            self._conn.execute(insert(table).values(values))
        return changed == 0

    # teams and people
    def upsert_team(self, team: Team, at: datetime) -> bool:
        values: dict[str, Any] = {
            "name": team.name,
            "slack_channel": team.slack_channel,
            "lead": team.lead,
            "escalation_policy": team.escalation_policy,
        }
        if self.team(team.name) is None:
            values["created_at"] = at
        return self._upsert(t.teams, "name", values)

    def team(self, name: str) -> Team | None:
        return next(iter(self.teams([name])), None)

    def teams(self, names: list[str] | None = None) -> list[Team]:
        query = select(t.teams).order_by(t.teams.c.name)
        if names is not None:
            query = query.where(t.teams.c.name.in_(names))
        return [
            Team(r["name"], r["slack_channel"], r["lead"], r["escalation_policy"])
            for r in self._conn.execute(query).mappings()
        ]

    def upsert_person(self, person: Person, at: datetime) -> bool:
        team_id = None
        if person.team is not None:
            team_id = self._conn.execute(
                select(t.teams.c.id).where(t.teams.c.name == person.team)
            ).scalar_one()
        values: dict[str, Any] = {
            "handle": person.handle,
            "name": person.name,
            "email": person.email,
            "slack_id": person.slack_id,
            "phone": person.phone,
            "team_id": team_id,
            "seniority": person.seniority.value,
        }
        if person.slack_id is None:  # an import without one keeps the link set or learned
            del values["slack_id"]
        if self.person(person.handle) is None:
            values["created_at"] = at
        return self._upsert(t.people, "handle", values)

    def person(self, handle: str) -> Person | None:
        return next(iter(self.people([handle])), None)

    def people(self, handles: list[str] | None = None) -> list[Person]:
        p = t.people
        query = (
            select(p, t.teams.c.name.label("team_name"))
            .outerjoin(t.teams, t.teams.c.id == p.c.team_id)
            .order_by(p.c.handle)
        )
        if handles is not None:
            query = query.where(p.c.handle.in_(handles))
        return [
            Person(
                r["handle"],
                r["name"],
                r["email"],
                r["slack_id"],
                r["phone"],
                r["team_name"],
                Seniority(r["seniority"]),
                Role(r["role"]) if r["role"] else None,
                r["disabled_at"],
            )
            for r in self._conn.execute(query).mappings()
        ]

    def set_account(self, handle: str, role: Role | None, disabled_at: datetime | None) -> None:
        """A person's role and disabled stamp (the on-call import never touches them)."""
        values = {"role": role.value if role else None, "disabled_at": disabled_at}
        self._conn.execute(update(t.people).where(t.people.c.handle == handle).values(values))

    def set_slack_id(self, handle: str, slack_id: str | None) -> None:
        """Link the person to a Slack user (None: unlink); set by an admin or learned by email."""
        values = {"slack_id": slack_id}
        self._conn.execute(update(t.people).where(t.people.c.handle == handle).values(values))

    # schedules and overrides
    def upsert_schedule(self, schedule: Schedule, at: datetime) -> bool:
        values = {
            "name": schedule.name,
            "team": schedule.team,
            "timezone": schedule.timezone,
            "layers": [layer_to_json(x) for x in schedule.layers],
            "updated_at": at,
        }
        return self._upsert(ot.schedules, "name", values)

    def schedules(
        self, overrides_after: datetime, names: list[str] | None = None
    ) -> list[Schedule]:
        """Schedules with their overrides that end after ``overrides_after``."""
        query = select(ot.schedules).order_by(ot.schedules.c.name)
        if names is not None:
            query = query.where(ot.schedules.c.name.in_(names))
        rows = list(self._conn.execute(query).mappings())
        if not rows:
            return []
        o = ot.overrides
        found: dict[str, list[Window]] = {r["name"]: [] for r in rows}
        for row in self._conn.execute(
            select(o)
            .where(o.c.schedule.in_(list(found)), o.c.ends_at > overrides_after)
            .order_by(o.c.starts_at, o.c.id)
        ).mappings():
            found[row["schedule"]].append(_window(row))
        return [
            Schedule(
                r["name"],
                r["timezone"],
                tuple(layer_from_json(x) for x in r["layers"]),
                r["team"],
                tuple(found[r["name"]]),
            )
            for r in rows
        ]

    def add_override(self, schedule: str, window: Window, at: datetime) -> Window:
        return self._add_window(ot.overrides, {"schedule": schedule}, window, at)

    def remove_override(self, schedule: str, override_id: int) -> bool:
        o = ot.overrides
        result = self._conn.execute(
            delete(o).where(o.c.id == override_id, o.c.schedule == schedule)
        )
        return bool(result.rowcount)

    def _add_window(
        self, table: Table, extra: dict[str, Any], window: Window, at: datetime
    ) -> Window:
        values = {
            **extra,
            "handle": window.handle,
            "starts_at": window.starts_at,
            "ends_at": window.ends_at,
            "reason": window.reason,
            "created_at": at,
        }
        new_id = self._conn.execute(insert(table).values(values).returning(table.c.id)).scalar_one()
        return Window(window.handle, window.starts_at, window.ends_at, window.reason, new_id)

    # time off
    def add_time_off(self, window: Window, at: datetime) -> Window:
        return self._add_window(ot.time_off, {}, window, at)

    def remove_time_off(self, time_off_id: int) -> bool:
        result = self._conn.execute(delete(ot.time_off).where(ot.time_off.c.id == time_off_id))
        return bool(result.rowcount)

    def time_off(self, ends_after: datetime) -> list[Window]:
        x = ot.time_off
        rows = self._conn.execute(
            select(x).where(x.c.ends_at > ends_after).order_by(x.c.starts_at, x.c.id)
        ).mappings()
        return [_window(r) for r in rows]

    # escalation policies
    def upsert_policy(self, policy: EscalationPolicy, at: datetime) -> bool:
        values = {
            "name": policy.name,
            "levels": [_level_to_json(x) for x in policy.levels],
            "repeats": policy.repeats,
            "updated_at": at,
        }
        return self._upsert(ot.escalation_policies, "name", values)

    def policies(self, names: list[str] | None = None) -> list[EscalationPolicy]:
        e = ot.escalation_policies
        query = select(e).order_by(e.c.name)
        if names is not None:
            query = query.where(e.c.name.in_(names))
        return [
            EscalationPolicy(
                r["name"], tuple(_level_from_json(x) for x in r["levels"]), r["repeats"]
            )
            for r in self._conn.execute(query).mappings()
        ]
