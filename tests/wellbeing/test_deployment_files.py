"""The container image and docker-compose stack, checked by reading them (no Docker here)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml  # installed with drf-spectacular
from django.conf import settings

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


def test_image_contains_every_package_of_the_project() -> None:
    # given the packages pyproject installs (every Django app among them)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    # then the Dockerfile copies each one into the image
    copies = {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert sorted(set(packages) - copies) == []


def test_static_files_are_collected_at_build_time_as_root() -> None:
    # /app belongs to root; the container runs as 'app' and could not write STATIC_ROOT
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    collect = next(i for i, line in enumerate(lines) if "collectstatic" in line)
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert collect < user
    assert "collectstatic" not in str(_compose()["web"]["command"])


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
        env={**env, "ALLOWED_HOSTS": "testserver"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert page.stdout.split() == ["200", "True"], page.stderr[-2000:]


def test_compose_runs_every_process_with_a_healthcheck() -> None:
    services = _compose()
    # given the stack the issue asks for, each service has a healthcheck
    assert {"postgres", "redis", "web", "worker", "beat", "mail"} <= set(services)
    assert [name for name, svc in services.items() if "healthcheck" not in svc] == []
    # the web service migrates on start and its probe hits the health endpoint
    assert "migrate" in services["web"]["command"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert " beat" in services["beat"]["command"]


def test_compose_worker_consumes_every_celery_queue() -> None:
    command = _compose()["worker"]["command"].split()
    consumed = set(command[command.index("-Q") + 1].split(","))
    assert consumed == {queue.name for queue in settings.CELERY_TASK_QUEUES}


def test_compose_takes_the_database_password_from_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    services = _compose()
    # given the stack / then no password is written into it: postgres and the app both read
    # POSTGRES_PASSWORD from .env, and compose refuses to start without one
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    app_url = yaml.safe_load(text)["x-app"]["environment"]["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD" in app_url and "wellbeing:wellbeing@" not in text
    # and .env.example names the variable for the operator to fill in
    assert "POSTGRES_PASSWORD=" in (ROOT / ".env.example").read_text()
