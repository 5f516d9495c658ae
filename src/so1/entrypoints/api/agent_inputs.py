"""The agents' requests at the edge: the ``inputs`` of ``POST /v1/orchestrate`` (and of the web
forms that ask the same agents) validated once, with Pydantic, into the request type each
agent declares (``agents/<phase>/contract.py``). Agents without a typed contract take their
inputs as given. A bad input is a 422 naming each field (``inputs.<field>``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from so1.agents.commander.contract import (
    CommanderRequest,
    Impact,
    SimilarIncident,
    TriageFindings,
)
from so1.agents.deployer.contract import DeployerRequest
from so1.agents.postmortem.contract import PostmortemRequest
from so1.domain.incidents import INCIDENT_ID_PATTERN
from so1.domain.platform import PlatformAction
from so1.domain.postmortem import AnalysisMethod
from so1.domain.records import AgentName
from so1.domain.severity import Severity
from so1.entrypoints.api.triage_schemas import triage_request
from so1.errors import ValidationFailed
from so1.services.orchestration import AgentRequest

IncidentId = Annotated[str, Field(pattern=INCIDENT_ID_PATTERN.pattern)]
Text = Annotated[str, Field(min_length=1, max_length=300)]
Handle = Annotated[str, Field(min_length=1, max_length=100)]


class _Inputs(BaseModel):
    """An agent's request: unknown fields are refused (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Part(BaseModel):
    """Part of a report another agent wrote: it carries more than this agent reads."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ImpactIn(_Part):
    users_affected: StrictInt | Text | None = None
    affected: Text | None = None
    services: list[Handle] = Field(default_factory=list, max_length=100)


class HypothesisIn(_Part):
    cause: Handle | None = None


class SimilarIn(_Part):
    incident_id: IncidentId
    title: str = Field(default="", max_length=300)
    cause: Handle = "unknown"
    resolution: str | None = Field(default=None, max_length=2000)
    score: float = Field(default=0.0, ge=0, le=1)


class TriageReportIn(_Part):
    """A triage report (DESIGN §3, or the seed's shorter one) as the commander reads it."""

    hypotheses: list[HypothesisIn] = Field(default_factory=list, max_length=50)
    hypothesis: Text | list[Text] | None = None
    symptoms: Text | list[Text] | None = None
    impact: ImpactIn | None = None
    similar_incidents: list[SimilarIn] = Field(default_factory=list, max_length=20)

    def findings(self) -> TriageFindings:
        impact = self.impact or ImpactIn()
        return TriageFindings(
            causes=tuple(h.cause or "unknown" for h in self.hypotheses),
            hypotheses=_texts(self.hypothesis),
            symptoms=_texts(self.symptoms),
            impact=Impact(impact.users_affected, impact.affected, tuple(impact.services)),
            similar_incidents=tuple(
                SimilarIncident(s.incident_id, s.title, s.cause, s.resolution, s.score)
                for s in self.similar_incidents
            ),
        )


def _texts(value: str | list[str] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


class CommanderIn(_Inputs):
    incident_id: IncidentId
    severity: Severity | None = None
    triage_report: TriageReportIn | None = None
    commander: Handle | None = None
    channel: Handle | None = None
    title: Text | None = None
    status: Annotated[str, Field(min_length=1, max_length=50)] | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def request(self) -> CommanderRequest:
        report = self.triage_report
        findings = report.findings() if report and report.model_fields_set else None
        return CommanderRequest(
            self.incident_id,
            self.severity,
            findings,
            self.commander,
            self.channel,
            self.title,
            self.status,
        )


class DeployerIn(_Inputs):
    action: PlatformAction
    service: Handle
    incident_id: IncidentId | None = None
    target_version: Handle | None = None
    variables: dict[str, Annotated[str, Field(max_length=10_000)]] | None = None
    apply: bool | None = None
    replicas: StrictInt | None = None
    flag: Annotated[str, Field(max_length=100)] | None = None  # a flag action checks it is given

    def request(self) -> DeployerRequest:
        return DeployerRequest(
            self.action,
            self.service,
            self.incident_id,
            self.target_version,
            self.variables,
            self.apply,
            self.replicas,
            self.flag,
        )


class PostmortemIn(_Inputs):
    incident_id: IncidentId
    analysis_method: AnalysisMethod | None = None
    responders: list[Handle] | None = Field(default=None, max_length=100)
    timeline_source: Literal["incident_record"] | None = None  # the only source there is

    def request(self) -> PostmortemRequest:
        responders = tuple(self.responders) if self.responders is not None else None
        return PostmortemRequest(
            self.incident_id, self.analysis_method, responders, self.timeline_source
        )


ModelT = TypeVar("ModelT", bound=BaseModel)


def _validated(model: type[ModelT], raw: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            (".".join(["inputs", *(str(p) for p in e["loc"])]), e["msg"]) for e in exc.errors()
        ]
        detail = "; ".join(f"{field}: {message}" for field, message in problems)
        raise ValidationFailed(f"invalid inputs: {detail}", field=problems[0][0]) from None


def deployer_request_of(raw: Mapping[str, Any]) -> DeployerRequest:
    """A platform action asked for by a form (the web pages) or by the API."""
    return _validated(DeployerIn, raw).request()


PARSERS: dict[str, Callable[[Mapping[str, Any]], AgentRequest]] = {
    AgentName.TRIAGE: lambda raw: triage_request(dict(raw)),
    AgentName.COMMANDER: lambda raw: _validated(CommanderIn, raw).request(),
    AgentName.DEPLOYER: deployer_request_of,
    AgentName.POSTMORTEM: lambda raw: _validated(PostmortemIn, raw).request(),
}


def parse_inputs(agent: str, inputs: Mapping[str, Any]) -> AgentRequest:
    """The request of the type ``agent`` declares (ValidationFailed names every bad field);
    an agent without a typed contract gets ``inputs`` as they are."""
    parse = PARSERS.get(agent)
    return inputs if parse is None else parse(inputs)
