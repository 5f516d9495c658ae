"""Who leads: the owning team (most affected service's owner) and the commander the runbook's
severity table asks for, with the backup from the rotation when someone is unavailable."""

from __future__ import annotations

from dataclasses import dataclass, field

from so1.agents.commander.contract import CommanderInputs, TeamInfo
from so1.domain.oncall import Seniority
from so1.domain.severity import SEVERITY_TABLE, Severity

# The runbook's commander column as a minimum seniority.
NEEDED = {
    Severity.SEV0: Seniority.LEAD,
    Severity.SEV1: Seniority.SENIOR,
    Severity.SEV2: Seniority.ENGINEER,
    Severity.SEV3: Seniority.ENGINEER,
    Severity.SEV4: Seniority.ENGINEER,
}
_TIER_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class Roles:
    owning_team: str | None
    most_affected: str | None
    commander: str | None
    backup: str | None
    executive: str | None
    lead: str | None
    decisions: list[str] = field(default_factory=list)


def affected_services(inputs: CommanderInputs) -> list[str]:
    names = [inputs.service] if inputs.service else []
    names += inputs.findings.impact.services
    names += list(inputs.alert_counts)
    return list(dict.fromkeys(names))


def most_affected(inputs: CommanderInputs) -> str | None:
    """The incident's service unless alerts say another suffers more; ties go to the tier."""
    names = affected_services(inputs)
    if not names:
        return None

    def weight(name: str) -> tuple[int, int, int]:
        tier = inputs.services[name].tier if name in inputs.services else None
        return (-inputs.alert_counts.get(name, 0), _TIER_RANK.get(tier or "", 9), names.index(name))

    return min(names, key=weight) if inputs.alert_counts else names[0]


def decide_roles(inputs: CommanderInputs) -> Roles:
    service = most_affected(inputs)
    entry = inputs.services.get(service or "")
    owner = entry.owner_team if entry else None
    roles = Roles(owner, service, None, None, None, None)
    teams = {
        inputs.services[s].owner_team for s in affected_services(inputs) if s in inputs.services
    }
    if len(teams - {None}) > 1:
        roles.decisions.append(
            f"several teams affected ({', '.join(sorted(t for t in teams if t))}): "
            f"{owner} leads as owner of the most affected service, {service}"
        )
    team = inputs.teams.get(owner or "") or TeamInfo(owner or "")
    roles.lead = _available(inputs, [team.lead] if team.lead else [])
    if inputs.severity.rank <= 1 and roles.lead is None:
        roles.lead = _available(inputs, _ranked(inputs, Seniority.LEAD, owner))
    _pick_commander(inputs, roles, team)
    if inputs.severity is Severity.SEV0:
        roles.executive = _available(inputs, _ranked(inputs, Seniority.EXECUTIVE, None))
        if roles.executive is None:
            roles.decisions.append("SEV0 needs an executive: none is in the people directory")
    return roles


def _pick_commander(inputs: CommanderInputs, roles: Roles, team: TeamInfo) -> None:
    need = NEEDED[inputs.severity]
    role = SEVERITY_TABLE[inputs.severity].commander_role
    requested = inputs.requested_commander
    rotation = [h for h in (team.on_call, *team.backups) if h]
    if not team.name:  # no owning team known: whoever is on call anywhere, team by team
        rotation = [t.on_call for _, t in sorted(inputs.teams.items()) if t.on_call]
    if requested and requested in inputs.away:
        roles.decisions.append(f"requested commander @{requested} is unavailable (time off)")
        requested = None
    if requested and _senior_enough(inputs, requested, need):
        roles.commander = requested
        roles.decisions.append(f"commander @{requested} as requested ({role})")
    else:
        if requested:
            roles.decisions.append(f"@{requested} is not senior enough for {inputs.severity}")
        candidates = [roles.lead] if need is Seniority.LEAD and roles.lead else []
        candidates += [h for h in rotation if _senior_enough(inputs, h, need)]
        candidates += _ranked(inputs, need, team.name or None)
        roles.commander = _available(inputs, candidates)
        _explain(roles, team, role)
    backups = [h for h in rotation if h != roles.commander]
    roles.backup = _available(inputs, backups)


def _explain(roles: Roles, team: TeamInfo, role: str) -> None:
    if roles.commander is None:
        roles.decisions.append(f"no {role.lower()} available: the escalation policy pages")
        return
    if team.skipped and roles.commander in team.backups + ((team.on_call,) if team.on_call else ()):
        away = ", ".join(f"@{h}" for h in team.skipped)
        roles.decisions.append(
            f"commander unavailable ({away} on time off): backup @{roles.commander} "
            f"assigned from the {team.schedule or 'team'} rotation"
        )
        return
    source = f"on call for {team.name}" if roles.commander == team.on_call else "available"
    roles.decisions.append(f"commander @{roles.commander}: {role}, {source}")


def _senior_enough(inputs: CommanderInputs, handle: str, need: Seniority) -> bool:
    person = inputs.people.get(handle)
    if person is None:  # not in the directory: cannot tell; trust the rota / the request
        return need is Seniority.ENGINEER or not inputs.people
    return person.seniority.rank >= need.rank


def _ranked(inputs: CommanderInputs, need: Seniority, team: str | None) -> list[str]:
    """People of at least ``need`` seniority, the team's first, then by seniority."""
    found = [p for p in inputs.people.values() if p.seniority.rank >= need.rank]
    found.sort(
        key=lambda p: (team is None or p.team != team, p.team is None, p.seniority.rank, p.handle)
    )
    return [p.handle for p in found]


def _available(inputs: CommanderInputs, handles: list[str]) -> str | None:
    return next((h for h in dict.fromkeys(handles) if h not in inputs.away), None)
