"""Use cases for on-call: importing people, teams, schedules and policies; who is on call;
overrides and time off; resolving an escalation level to the people it pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from so1.domain.oncall import (
    EscalationPolicy,
    OnCall,
    Person,
    Schedule,
    Shift,
    Target,
    Team,
    Window,
)
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record

LOOKAHEAD = timedelta(days=90)  # how far "next on call" looks
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # overrides ending after it: none


@dataclass(frozen=True, slots=True)
class OnCallConfig:
    """A whole or partial on-call set-up; names are matched against what is stored too."""

    teams: list[Team] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    policies: list[EscalationPolicy] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScheduleNow:
    schedule: Schedule
    now: OnCall
    until: datetime | None  # when the current shift ends (None: beyond the look-ahead)
    next: Shift | None


def import_config(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, config: OnCallConfig
) -> dict[str, dict[str, int]]:
    """Create or replace everything in ``config`` in one transaction; returns counts of
    created and updated items per kind. Nothing is deleted."""
    now = clock.now()
    with uow_factory() as uow:
        _check_references(uow, config)
        created = {
            "teams": [uow.oncall.upsert_team(x, now) for x in config.teams],
            "people": [uow.oncall.upsert_person(x, now) for x in config.people],
            "schedules": [uow.oncall.upsert_schedule(x, now) for x in config.schedules],
            "escalation_policies": [uow.oncall.upsert_policy(x, now) for x in config.policies],
        }
        counts = {
            kind: {"created": sum(flags), "updated": len(flags) - sum(flags)}
            for kind, flags in created.items()
        }
        record(uow, actor, now, Change("oncall.import", "oncall", None, "on-call imported", counts))
        uow.commit()
    return counts


def _check_references(uow: UnitOfWork, config: OnCallConfig) -> None:
    """Every name used must exist in the config or the database; fails naming the first gap."""
    teams = {t.name for t in config.teams} | {t.name for t in uow.oncall.teams()}
    people = {p.handle for p in config.people} | {p.handle for p in uow.oncall.people()}
    schedules = {s.name for s in config.schedules}
    schedules |= {s.name for s in uow.oncall.schedules(FAR_FUTURE)}
    policies = {p.name for p in config.policies} | {p.name for p in uow.oncall.policies()}
    known = {"team": teams, "person": people, "schedule": schedules, "policy": policies}

    def need(kind: str, name: str | None, where: str) -> None:
        if name is not None and name not in known[kind]:
            raise ValidationFailed(f"{where} names {kind} '{name}', which is not defined", where)

    for person in config.people:
        need("team", person.team, f"people.{person.handle}.team")
    for team in config.teams:
        need("person", team.lead, f"teams.{team.name}.lead")
        need("policy", team.escalation_policy, f"teams.{team.name}.escalation_policy")
    for schedule in config.schedules:
        need("team", schedule.team, f"schedules.{schedule.name}.team")
        for layer in schedule.layers:
            for member in layer.members:
                need("person", member, f"schedules.{schedule.name}.layers.{layer.name}")
    for policy in config.policies:
        for number, level in enumerate(policy.levels):
            for target in level.targets:
                need(target.kind, target.name, f"escalation_policies.{policy.name}.levels.{number}")


def on_call_now(
    uow_factory: UnitOfWorkFactory, at: datetime, team: str | None = None
) -> list[ScheduleNow]:
    """Per schedule (optionally one team's): who covers now, until when, and who is next."""
    with uow_factory(read_only=True) as uow:
        schedules = uow.oncall.schedules(at)
        away = uow.oncall.time_off(at)
    found = []
    for schedule in schedules:
        if team is not None and schedule.team != team:
            continue
        shifts = schedule.shifts(at, at + LOOKAHEAD, away)
        current = shifts[0] if shifts else None
        following = next((s for s in shifts[1:] if s.handle is not None), None)
        until = current.ends_at if current and len(shifts) > 1 else None
        found.append(ScheduleNow(schedule, schedule.on_call(at, away), until, following))
    return found


def get_schedule(uow_factory: UnitOfWorkFactory, name: str, at: datetime) -> Schedule:
    with uow_factory(read_only=True) as uow:
        found = uow.oncall.schedules(at, [name])
    if not found:
        raise NotFound(f"schedule '{name}' does not exist")
    return found[0]


def schedule_shifts(
    uow_factory: UnitOfWorkFactory, name: str, start: datetime, end: datetime
) -> tuple[Schedule, list[Shift]]:
    if end <= start:
        raise ValidationFailed("'end' must be after 'start'", "end")
    with uow_factory(read_only=True) as uow:
        found = uow.oncall.schedules(start, [name])
        away = uow.oncall.time_off(start)
    if not found:
        raise NotFound(f"schedule '{name}' does not exist")
    return found[0], found[0].shifts(start, end, away)


def _check_window(uow: UnitOfWork, window: Window) -> None:
    if window.ends_at <= window.starts_at:
        raise ValidationFailed("'end' must be after 'start'", "end")
    if uow.oncall.person(window.handle) is None:
        raise ValidationFailed(f"no person with handle '{window.handle}'", "handle")


def add_override(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, schedule: str, window: Window
) -> Window:
    """Someone covers a schedule for a while (a swap, or cover for PTO)."""
    now = clock.now()
    with uow_factory() as uow:
        if not uow.oncall.schedules(now, [schedule]):
            raise NotFound(f"schedule '{schedule}' does not exist")
        _check_window(uow, window)
        stored = uow.oncall.add_override(schedule, window, now)
        detail = {
            "handle": window.handle,
            "starts_at": window.starts_at.isoformat(),
            "ends_at": window.ends_at.isoformat(),
            "reason": window.reason,
        }
        summary = f"override: {window.handle} covers {schedule}"
        record(uow, actor, now, Change("oncall.override", "schedule", schedule, summary, detail))
        uow.commit()
    return stored


def remove_override(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, schedule: str, override_id: int
) -> None:
    now = clock.now()
    with uow_factory() as uow:
        if not uow.oncall.remove_override(schedule, override_id):
            raise NotFound(f"schedule '{schedule}' has no override {override_id}")
        change = Change(
            "oncall.override.remove",
            "schedule",
            schedule,
            "override removed",
            {"override_id": override_id},
        )
        record(uow, actor, now, change)
        uow.commit()


def add_time_off(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, window: Window
) -> Window:
    """PTO: the person is skipped by every rotation and override while away."""
    now = clock.now()
    with uow_factory() as uow:
        _check_window(uow, window)
        stored = uow.oncall.add_time_off(window, now)
        change = Change(
            "oncall.time_off",
            "person",
            window.handle,
            "time off added",
            {"id": stored.id, "ends_at": window.ends_at.isoformat()},
        )
        record(uow, actor, now, change)
        uow.commit()
    return stored


def remove_time_off(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, time_off_id: int
) -> None:
    now = clock.now()
    with uow_factory() as uow:
        if not uow.oncall.remove_time_off(time_off_id):
            raise NotFound(f"no time off with id {time_off_id}")
        change = Change("oncall.time_off.remove", "time_off", str(time_off_id), "time off removed")
        record(uow, actor, now, change)
        uow.commit()


def list_people(uow_factory: UnitOfWorkFactory) -> list[Person]:
    with uow_factory(read_only=True) as uow:
        return uow.oncall.people()


def list_teams(uow_factory: UnitOfWorkFactory) -> list[Team]:
    with uow_factory(read_only=True) as uow:
        return uow.oncall.teams()


def list_policies(uow_factory: UnitOfWorkFactory) -> list[EscalationPolicy]:
    with uow_factory(read_only=True) as uow:
        return uow.oncall.policies()


def resolve_targets(
    targets: tuple[Target, ...], schedules: list[Schedule], away: list[Window], at: datetime
) -> list[str]:
    """The handles an escalation level pages at ``at`` (schedules resolved to who covers)."""
    by_name = {s.name: s for s in schedules}
    handles: list[str] = []
    for target in targets:
        if target.kind == "person":
            handle: str | None = target.name
        else:
            schedule = by_name.get(target.name)
            handle = schedule.on_call(at, away).handle if schedule else None
        if handle is not None and handle not in handles:
            handles.append(handle)
    return handles
