"""What supervisord runs for a service of the local platform:
``python -m so1.adapters.platform.local_launcher <root>/<service>``.

It reads the service's ``current`` release, that release's ``release.json`` and the service's
``env.json``, then replaces itself with the release's command (exec), so supervisord watches
the application itself: its pid, exit status and stdout. Stdlib only, and it imports nothing
of SO1, so a broken SO1 install cannot stop a service from starting.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def command_for(service_dir: Path) -> tuple[list[str], Path, dict[str, str]]:
    """The command, working directory and environment of the current release."""
    release = (service_dir / "current").read_text(encoding="utf-8").strip()
    release_dir = service_dir / "releases" / release
    spec: dict[str, Any] = json.loads((release_dir / "release.json").read_text("utf-8"))
    env_file = service_dir / "env.json"
    variables = json.loads(env_file.read_text("utf-8")) if env_file.exists() else {}
    env = {**os.environ, **{str(name): str(value) for name, value in variables.items()}}
    command = [str(part) for part in spec["command"]]
    if not command:
        raise ValueError(f"release {release} has an empty command")
    return command, release_dir / str(spec.get("cwd") or "."), env


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m so1.adapters.platform.local_launcher <service dir>")
    service_dir = Path(argv[1])
    try:
        command, cwd, env = command_for(service_dir)
        os.chdir(cwd)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"so1 launcher: cannot start {service_dir.name}: {exc!r}") from exc
    print(f"so1 launcher: {service_dir.name} runs {command} in {cwd}", flush=True)
    try:
        os.execvpe(command[0], command, env)  # noqa: S606 - the release's own command, no shell
    except OSError as exc:
        raise SystemExit(f"so1 launcher: cannot run {command[0]}: {exc}") from exc


if __name__ == "__main__":
    main(sys.argv)
