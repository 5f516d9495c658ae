"""The dependency direction of docs/architecture.md, read from every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "so1"

# What each part of the tree may import from so1 (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "domain": {"errors"},
    "knowledge": set(),
    "ports": {"domain", "errors"},
    "agents": {"domain", "errors", "ports", "knowledge"},
    "services": {"domain", "errors", "ports", "knowledge", "agents"},
    "adapters": {"domain", "errors", "ports", "config"},
    "config": {"errors", "domain"},
    "bootstrap": {"adapters", "agents", "config", "domain", "errors", "ports", "services"},
}


SAME_LAYER = {"config_check": "config"}  # the settings' start-up checks are the config layer


def _part(module: Path) -> str:
    rel = module.relative_to(SRC)
    name = rel.parts[0].removesuffix(".py")
    return SAME_LAYER.get(name, name)


def _imported_parts(module: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "so1":
                names = [f"so1.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        parts = {n.split(".")[1] for n in names if n.startswith("so1.") and n.count(".") >= 1}
        found |= {SAME_LAYER.get(p, p) for p in parts}
    return found


def _modules(part: str) -> list[Path]:
    base = SRC / part
    if base.is_dir():
        return sorted(p for p in base.rglob("*.py") if "migrations" not in p.parts)
    return [SRC / f"{name}.py" for name in [part, *(k for k, v in SAME_LAYER.items() if v == part)]]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_no_module_imports_a_higher_layer(part: str) -> None:
    wrong = {
        str(module.relative_to(SRC)): sorted(_imported_parts(module) - ALLOWED[part] - {part})
        for module in _modules(part)
    }
    assert {name: parts for name, parts in wrong.items() if parts} == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from so1.entrypoints.cli import main\nimport so1.services.views\n")
    assert _imported_parts(module) == {"entrypoints", "services"}
