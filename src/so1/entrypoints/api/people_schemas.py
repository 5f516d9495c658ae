"""Bodies of the people administration API: a person with their account (role, disabled)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel, Field

from so1.domain.access import Role
from so1.domain.oncall import Person, Seniority
from so1.entrypoints.api.oncall_schemas import PersonIn
from so1.entrypoints.api.schemas import Strict

RoleField = Field(description="viewer, responder, deployer, security or admin")


class NewPersonIn(PersonIn):
    role: Role = Field(default=Role.VIEWER, description="viewer (default), responder, ...")

    def to_domain(self) -> Person:
        return Person(**self.model_dump())


class RoleIn(Strict):
    role: Role = RoleField


class SlackLinkIn(Strict):
    slack_id: str | None = Field(
        default=None,
        pattern=r"^[UW][A-Z0-9]{2,49}$",
        description="the Slack user id (U…); left out: the Slack user with the person's email",
    )


class PersonOut(BaseModel):
    handle: str
    name: str | None
    email: str | None
    slack_id: str | None
    phone: str | None
    team: str | None
    seniority: Seniority
    role: Role | None = Field(description="None: not set (their keys keep their own scopes)")
    disabled_at: datetime | None
    disabled: bool

    @classmethod
    def of(cls, person: Person) -> PersonOut:
        return cls(**asdict(person), disabled=person.disabled)
