"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and the checker bites."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_projects_import_contracts_are_kept() -> None:
    # given the contracts of pyproject.toml / when checked / then none is broken
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_that_exists_is_reported(tmp_path: Path) -> None:
    # given a contract that the code breaks on purpose (training does import inference)
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\n"
        "root_packages =\n    inference\n    training\n\n"
        "[importlinter:contract:probe]\n"
        "name = training may not import inference\n"
        "type = forbidden\n"
        "source_modules = training\n"
        "forbidden_modules = inference\n"
    )
    # when checked / then the checker reports it as broken and fails
    result = lint_imports("--config", str(config))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


# The apps the layers contract orders (pyproject.toml, id "app-layers"; docs/architecture.md).
APPS = ("dashboard", "privacy", "alerts", "capture", "consent", "wellbeing")


def app_layers_contract() -> dict[str, Any]:
    """The layers contract exactly as pyproject.toml states it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c.get("id") == "app-layers")


def copy_of_the_apps(tmp_path: Path) -> Path:
    """The apps' Python sources, with a config that holds only the real layers contract."""
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=only_python_sources)
    contract = app_layers_contract()
    (tmp_path / "contracts.toml").write_text(
        "[tool.importlinter]\n"
        f"root_packages = {json.dumps(list(APPS))}\n\n"
        "[[tool.importlinter.contracts]]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in contract.items())
    )
    return tmp_path


def only_python_sources(folder: str, names: list[str]) -> set[str]:
    # Folders are walked; of the files only modules count for the import graph.
    return {n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()} | {
        "__pycache__"
    }


def lint_copy(copy: Path) -> subprocess.CompletedProcess[str]:
    # cwd first on sys.path (import-linter puts it there), so the copy, not the installed
    # project, is what gets analysed.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(copy / "contracts.toml")],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("module", "upward_import", "reported"),
    [
        # the cycles of issue 14, added back
        ("capture/sessions.py", "from alerts import tasks", "capture.sessions -> alerts.tasks"),
        (
            "consent/views.py",
            "from privacy import withdrawal",
            "consent.views -> privacy.withdrawal",
        ),
        ("wellbeing/models.py", "from consent import rules", "wellbeing.models -> consent.rules"),
    ],
)
def test_the_app_layers_contract_fails_when_a_cycle_is_added_back(
    tmp_path: Path, module: str, upward_import: str, reported: str
) -> None:
    # given a copy of the apps that keeps the contract
    copy = copy_of_the_apps(tmp_path)
    assert lint_copy(copy).returncode == 0
    # when one lower app imports an app above it again (closing a cycle)
    with (copy / module).open("a") as source:
        source.write(f"\n{upward_import}  # noqa\n")
    result = lint_copy(copy)
    # then the contract is broken, naming that import
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert reported in result.stdout, result.stdout
