"""The runbook's knowledge as data, not code, with one cached loader per file.

- ``symptoms.yaml``: symptoms → likely causes, signals and severity words (triage-responder);
- ``comms.yaml``: the war-room, status-page and paging texts (incident-commander);
- ``mitigations.yaml``: the mitigation strategy table and approval policy (railway-deployer);
- ``postmortem.yaml`` and ``postmortem.md.j2``: causes' lessons and the postmortem's markdown
  (postmortem-analyst);
- ``runbook.yaml``: every runbook check with its deadline (the runbook clocks);
- ``playbooks.yaml``: the runbook's common scenarios as checklists.

Each loader returns the parsed YAML document (or the template's text); the code that uses it
types and checks it, and fails loudly on a malformed file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


def _text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def symptoms() -> Any:
    return yaml.safe_load(_text("symptoms.yaml"))


@cache
def comms() -> Any:
    return yaml.safe_load(_text("comms.yaml"))


@cache
def mitigations() -> Any:
    return yaml.safe_load(_text("mitigations.yaml"))


@cache
def postmortem() -> Any:
    return yaml.safe_load(_text("postmortem.yaml"))


@cache
def postmortem_template() -> str:
    return _text("postmortem.md.j2")


@cache
def runbook() -> Any:
    return yaml.safe_load(_text("runbook.yaml"))


@cache
def playbooks() -> Any:
    return yaml.safe_load(_text("playbooks.yaml"))
