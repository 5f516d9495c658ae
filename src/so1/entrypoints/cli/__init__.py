"""The `so1` command line (Typer + Rich): server and database commands, and an API client."""

from __future__ import annotations

import typer

from so1.entrypoints.cli import (
    actions,
    demo,
    intake,
    keys,
    local,
    oncall,
    people,
    remote,
    runs,
    security,
    status,
    status_notices,
    warroom,
    web,
)
from so1.entrypoints.cli.help import PlainHelpGroup

app = typer.Typer(
    name="so1",
    cls=PlainHelpGroup,
    help="SO1 Incident Response: from first alert to published postmortem.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
local.register(app)
keys.register(app)
status.register(app)
remote.register(app)
intake.register(app)
oncall.register(app)
people.register(app)
warroom.register(app)
status_notices.register(app)
demo.register(app)
security.register(app)
runs.register(app)
actions.register(app)
web.register(app)


def main() -> None:
    app()
