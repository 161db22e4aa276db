"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and the checker bites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
