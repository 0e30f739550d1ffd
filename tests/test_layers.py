"""Floors: nothing below the search spaces imports them, and the vocabulary imports in any order."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "automoa"
# The floors under automoa.spaces (see ARCHITECTURE.md, "Layout").
BELOW_SPACES = ("models", "preprocessing", "data", "ensemble", "testing")
GROUND = (
    "_version", "atomic", "config", "deadline", "exceptions", "folds", "interrupts", "losses",
    "metrics", "npz", "params", "registry", "threads",
)  # fmt: skip


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _below_spaces() -> list[Path]:
    files = [PACKAGE / f"{name}.py" for name in GROUND]
    for package in BELOW_SPACES:
        files += sorted((PACKAGE / package).rglob("*.py"))
    return files


def test_nothing_below_spaces_imports_spaces() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in _below_spaces()
        for name in sorted(_imported(path))
        if name == "automoa.spaces" or name.startswith("automoa.spaces.")
    ]
    assert offenders == []


def test_the_ground_floor_imports_only_the_ground_floor() -> None:
    ground = {f"automoa.{name}" for name in GROUND}
    offenders = [
        f"{name}.py imports {module}"
        for name in GROUND
        for module in sorted(_imported(PACKAGE / f"{name}.py"))
        if module.startswith("automoa")
        and module not in ground
        and module.rsplit(".", 1)[0] not in ground
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "order",
    [
        ("automoa.spaces", "automoa.models", "automoa.preprocessing"),
        ("automoa.models", "automoa.spaces"),
        ("automoa.preprocessing", "automoa.spaces"),
        ("automoa.config", "automoa.params", "automoa.spaces"),
    ],
)
def test_spaces_and_the_registries_import_in_any_order(order: tuple[str, ...]) -> None:
    code = (
        f"import {', '.join(order)}\n"
        "import automoa.models, automoa.preprocessing\n"
        "assert 'mlp' in automoa.models.family_names()\n"
        "assert 'pca' in automoa.preprocessing.step_names()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
