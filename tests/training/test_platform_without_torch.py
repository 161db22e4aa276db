"""The platform runs without PyTorch: only `training/` imports it, only the extra installs it."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.training.conftest import REPO_ROOT

PLATFORM_PACKAGES = [
    "wellbeing",
    "consent",
    "capture",
    "inference",
    "dashboard",
    "alerts",
    "privacy",
]
TRAINING_ONLY = {"torch", "torchvision", "training"}


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module that ``path`` imports (absolute imports only)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", PLATFORM_PACKAGES)
def test_platform_code_never_imports_torch_or_training(package: str) -> None:
    # given every Python file of a platform package
    files = sorted((REPO_ROOT / package).rglob("*.py"))
    assert files, package
    # when their imports are read
    offenders = {
        str(f.relative_to(REPO_ROOT)): sorted(imported_roots(f) & TRAINING_ONLY) for f in files
    }
    # then none imports PyTorch or the training package
    assert {f: names for f, names in offenders.items() if names} == {}


def test_torch_is_only_in_the_training_extra() -> None:
    # given the project's dependency lists
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    # when the base dependencies and the training extra are compared
    base = " ".join(project["dependencies"]).lower()
    extra = " ".join(project["optional-dependencies"]["training"]).lower()
    # then torch is in the extra and not in the base install
    assert "torch" in extra and "torch" not in base
