"""Every setting is documented in the README's configuration table (docs for every knob)."""

from __future__ import annotations

from pathlib import Path

from so1.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_has_a_row_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`SO1_{name.upper()}`" not in text]
    assert missing == []
