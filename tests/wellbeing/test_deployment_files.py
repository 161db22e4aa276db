"""The container image, checked by reading it (no Docker here); the compose stack is checked in
test_compose_stack.py."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import setuptools
import yaml  # installed with drf-spectacular

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def _production_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "wellbeing.settings",
        "DEBUG": "false",
        "SECRET_KEY": "collectstatic-test-only",
        "DATABASE_URL": "sqlite:////nonexistent/unused.sqlite3",
        **extra,
    }


def _package_folders() -> set[str]:
    """The top-level folders setuptools takes packages from (pyproject's packages.find)."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    folders = set()
    for where in find["find"]["where"]:
        for package in setuptools.find_packages(ROOT / where, include=find["find"]["include"]):
            folders.add(package.split(".")[0] if where == "." else where)
    return folders


def test_image_contains_every_package_of_the_project() -> None:
    # given the folders of the packages pyproject installs (every Django app, the capture client)
    folders = _package_folders()
    assert {"wellbeing", "consent", "capture_client"} <= folders
    # then the Dockerfile copies each one into the image
    copies = {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert sorted(folders - copies) == []


def test_static_files_are_collected_at_build_time_as_root() -> None:
    # /app belongs to root; the container runs as 'app' and could not write STATIC_ROOT
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    collect = next(i for i, line in enumerate(lines) if "collectstatic" in line)
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert collect < user
    assert "collectstatic" not in str(_compose()["web"]["command"])


@pytest.mark.django_db(transaction=True)
def test_production_static_storage_collects_and_serves_pages(tmp_path: Path) -> None:
    # given the production storage (hashed, compressed), when collectstatic runs as in the image
    env = _production_env(STATIC_ROOT=str(tmp_path / "static"))
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collect.returncode == 0, collect.stderr[-2000:]
    # then a page renders with hashed static URLs (a missing file would be a 500)
    render = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/accounts/login/', secure=True); "
        "print(r.status_code, '.css' in r.content.decode())"
    )
    page = subprocess.run(
        [sys.executable, "-c", render],
        cwd=ROOT,
        # The sign-in page reads the database (the schools' identity-provider buttons): the
        # tests' own, migrated by pytest.
        env={**env, "ALLOWED_HOSTS": "testserver", "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert page.stdout.split() == ["200", "True"], page.stderr[-2000:]
