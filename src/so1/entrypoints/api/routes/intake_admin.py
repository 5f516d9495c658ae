"""Correlation rules (with dry run) and silences."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from so1.domain.intake import CorrelationRule, Silence
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.entrypoints.api.intake_schemas import (
    DryRunGroup,
    DryRunOut,
    RuleIn,
    RuleOut,
    SilenceIn,
    SilenceOut,
)
from so1.errors import ValidationFailed
from so1.services.intake import correlation

router = APIRouter(tags=["correlation"])

RuleName = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def _rule_out(rule: CorrelationRule) -> RuleOut:
    return RuleOut(
        name=rule.name,
        group_by=rule.group_by,
        follow_dependencies=rule.follow_dependencies,
        window_seconds=int(rule.window.total_seconds()),
        storm_threshold=rule.storm_threshold,
        enabled=rule.enabled,
    )


def _rule_in(name: str, body: RuleIn) -> CorrelationRule:
    return CorrelationRule(
        name=name,
        group_by=body.group_by,
        window=timedelta(seconds=body.window_seconds),
        storm_threshold=body.storm_threshold,
        follow_dependencies=body.follow_dependencies,
        enabled=body.enabled,
    )


@router.get("/v1/correlation-rules", response_model=list[RuleOut])
def list_rules(container: ContainerDep, _: Reader) -> list[RuleOut]:
    """The rules in force; the built-in `default` until one is saved."""
    return [_rule_out(r) for r in correlation.list_rules(container.uow)]


@router.put("/v1/correlation-rules/{name}", response_model=RuleOut)
def put_rule(name: RuleName, body: RuleIn, container: ContainerDep, actor: Writer) -> RuleOut:
    stored = correlation.put_rule(container.uow, container.clock, actor, _rule_in(name, body))
    return _rule_out(stored)


@router.post("/v1/correlation-rules/{name}/dry-run", response_model=DryRunOut)
def dry_run(
    name: RuleName,
    container: ContainerDep,
    _: Reader,
    body: RuleIn | None = None,
    hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24,
) -> DryRunOut:
    """How the rule (or the body's unsaved version of it) would have grouped recent alerts."""
    rule = _rule_in(name, body) if body else correlation.get_rule(container.uow, name)
    considered, groups = correlation.dry_run(container.uow, container.clock, rule, hours)
    return DryRunOut(
        rule=_rule_out(rule),
        hours=hours,
        alerts_considered=considered,
        groups=[
            DryRunGroup(
                key=dict(g.key.values),
                alert_ids=[a.id for a in g.alerts],
                services=sorted(g.services),
                storm=len(g.alerts) >= rule.storm_threshold,
            )
            for g in groups
        ],
    )


def _silence_out(silence: Silence, container: ContainerDep) -> SilenceOut:
    values = asdict(silence)
    return SilenceOut(**values, active=silence.is_active(container.clock.now()))


@router.get("/v1/silences", response_model=list[SilenceOut], tags=["silences"])
def list_silences(container: ContainerDep, _: Reader) -> list[SilenceOut]:
    found = [_silence_out(s, container) for s in correlation.list_silences(container.uow)]
    return sorted(found, key=lambda s: (not s.active, s.starts_at))


@router.post("/v1/silences", status_code=201, response_model=SilenceOut, tags=["silences"])
def add_silence(body: SilenceIn, container: ContainerDep, actor: Writer) -> SilenceOut:
    start = body.starts_at or container.clock.now()
    if body.ends_at is None and body.duration_minutes is None:
        raise ValidationFailed("give ends_at or duration_minutes", "ends_at")
    end = body.ends_at or start + timedelta(minutes=body.duration_minutes or 0)
    silence = correlation.add_silence(
        container.uow, container.clock, actor, body.matchers, body.reason, body.starts_at, end
    )
    return _silence_out(silence, container)


@router.delete("/v1/silences/{silence_id}", status_code=204, tags=["silences"])
def expire_silence(
    silence_id: Annotated[int, Path(ge=1, le=2**31 - 1)], container: ContainerDep, actor: Writer
) -> None:
    correlation.expire_silence(container.uow, container.clock, actor, silence_id)
