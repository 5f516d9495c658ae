"""Published postmortems as markdown files under a directory (`<dir>/postmortems/
YYYY-MM-DD-<slug>.md`, as the runbook's so1-content repository keeps them), optionally
committed when the directory is a git repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

from so1.errors import Unavailable

SLUG = re.compile(r"[^a-z0-9]+")
GIT_TIMEOUT = 30
GIT = shutil.which("git") or "git"


def slug(title: str, limit: int = 60) -> str:
    return SLUG.sub("-", title.lower()).strip("-")[:limit].rstrip("-") or "incident"


class MarkdownDirectory:
    def __init__(self, root: Path, commit: bool = False) -> None:
        self._root, self._commit = root, commit

    def publish(self, day: date, title: str, markdown: str, message: str) -> Path:
        """Write (atomically) and, with ``commit``, commit the file; returns its path."""
        folder = self._root / "postmortems"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{day.isoformat()}-{slug(title)}.md"
        temporary = path.with_suffix(".md.tmp")
        temporary.write_text(markdown, encoding="utf-8")
        os.replace(temporary, path)
        if self._commit:
            self._git("add", str(path.relative_to(self._root)))
            self._git("commit", "--quiet", "-m", message, "--", str(path.relative_to(self._root)))
        return path

    def _git(self, *args: str) -> None:
        try:
            subprocess.run(  # noqa: S603 - git with our own arguments, no shell
                [GIT, *args],
                cwd=self._root,
                check=True,
                capture_output=True,
                timeout=GIT_TIMEOUT,
                text=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise Unavailable(f"git {args[0]} in {self._root} failed: {detail.strip()}") from exc
