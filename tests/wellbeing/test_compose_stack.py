"""docker-compose.yml, .env.example and deploy/Caddyfile, checked without a Docker daemon.

Docker cannot run on the development and CI machines, so the stack is checked by reading it
(what ``docker compose config`` would reject, and what the stack relies on), by ``docker compose
config`` itself where the compose plugin is installed, and by running deploy/Caddyfile with
Debian's ``caddy`` in front of daphne with the .env.example settings (test_proxy_serves_...).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # installed with drf-spectacular
from celery.app.utils import find_app
from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.management import get_commands

from tests.wellbeing.compose_files import (
    command_words,
    compose,
    env_example,
    env_example_commented,
    services,
    strings,
)

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"migrate", "web", "worker", "beat"}
STACK = APP_SERVICES | {"postgres", "redis", "mail", "proxy"}
# ${NAME...} or $NAME, not the escaped $$NAME that reaches the container's shell.
REFERENCE = re.compile(r"(?<!\$)\$(?!\$)\{?([A-Za-z_][A-Za-z0-9_]*)")


def settings_variables() -> set[str]:
    source = (ROOT / "wellbeing/settings.py").read_text()
    return set(re.findall(r"env_(?:str|int|bool|list)\(\s*\"([A-Z0-9_]+)\"", source))


def test_the_stack_runs_every_process_behind_one_proxy() -> None:
    # given the compose file / then it runs exactly the product's processes and the proxy
    assert set(services()) == STACK
    # and the app services share one image, built here, and read .env
    for name in APP_SERVICES:
        assert services()[name]["build"] == "." and services()[name]["env_file"] == ".env"


def test_every_variable_compose_reads_is_in_env_example() -> None:
    # given the variables docker-compose.yml interpolates from .env
    text = (ROOT / "docker-compose.yml").read_text()
    referenced = {name for value in strings(compose()) for name in REFERENCE.findall(value)}
    # then each is set in .env.example, or documented there and given a default in compose
    missing = sorted(
        name
        for name in referenced
        if name not in env_example()
        and not (name in env_example_commented() and f"${{{name}:-" in text)
    )
    assert referenced and missing == []


def test_compose_overrides_no_value_of_env() -> None:
    # given every environment entry compose sets in any service
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            defers = str(value).startswith((f"${{{key}:-", f"${{{key}:?", f"${{{key}}}"))
            # then a variable .env could set is passed through from .env, never replaced
            if key in env_example() or key in env_example_commented():
                assert defers, f"{name}: environment {key} overrides .env"
            # and an app service sets no variable but through ${SAME_NAME...}
            if name in APP_SERVICES:
                assert defers, f"{name}: environment {key} is not taken from .env"


def test_every_env_example_variable_is_read_by_the_settings_or_compose() -> None:
    # given the variables of .env.example
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "deploy/Caddyfile").read_text()
    unused = sorted(
        name for name in env_example() if name not in settings_variables() and name not in text
    )
    # then none is a dead setting
    assert unused == []


def test_app_processes_start_only_after_migrations_completed() -> None:
    stack = services()
    # given the one-shot migrate service: it waits for a healthy database and broker, runs once
    migrate = stack["migrate"]
    assert command_words(migrate)[1:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert migrate["restart"] == "no"  # "unless-stopped" would rerun it after every exit
    # then web, worker and beat start only once it exited 0, and none migrates itself
    for name in ("web", "worker", "beat"):
        depends = stack[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert "migrate" not in command_words(stack[name])


def test_long_running_services_have_healthchecks_that_probe_them() -> None:
    stack = services()
    # given every service but the one-shot migrate
    lacking = sorted(name for name in STACK - {"migrate"} if "healthcheck" not in stack[name])
    assert lacking == []
    # then the probes ask the process itself, and the proxy waits for a healthy web
    assert "pg_isready" in " ".join(stack["postgres"]["healthcheck"]["test"])
    assert stack["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "http://localhost:8000/healthz" in stack["web"]["healthcheck"]["test"]
    assert stack["proxy"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_redis_keeps_no_persistence_file_so_frame_bytes_never_reach_disk() -> None:
    # given the Redis that holds frame bytes (and the broker's tasks)
    command = command_words(services()["redis"])
    # then it writes neither RDB snapshots nor an append-only file (issue 15); frames a restart
    # loses are re-sent by the capture client until confirmed (docs/pipeline.md)
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert "volumes" not in services()["redis"]


def test_only_the_proxy_publishes_ports() -> None:
    stack = services()
    # given the services / then only the proxy publishes a port: Django trusts the proxy's
    # X-Forwarded-Proto, which would be forgeable if web were reachable directly
    assert sorted(name for name, service in stack.items() if "ports" in service) == ["proxy"]
    ports = stack["proxy"]["ports"]
    assert {"80:80", "443:443"} <= set(ports)
    # the mail catcher's inbox (it shows invitation links) only on the host's loopback address
    assert [port for port in ports if "8025" in port] == ["127.0.0.1:8025:8025"]
    # and the proxy forwards to the port web listens on
    web = command_words(stack["web"])
    assert web[web.index("-p") + 1] == "8000" and stack["web"]["expose"] == ["8000"]
    assert "reverse_proxy web:8000" in (ROOT / "deploy/Caddyfile").read_text()
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in stack["proxy"]["volumes"]


def test_no_secret_is_written_into_the_stack() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    # given the compose file / then every password comes from .env, and compose refuses to start
    # without one
    assert "${POSTGRES_PASSWORD:?" in services()["postgres"]["environment"]["POSTGRES_PASSWORD"]
    secret_keys = r"^\s*[A-Z_]*(?:PASSWORD|SECRET|_KEY)[A-Z_]*:\s*(\S*)"
    assert [v for v in re.findall(secret_keys, text, re.M) if not v.startswith("${")] == []
    # the image sets no secret (the build step's throwaway key is no ENV)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^ENV .*(?:SECRET|PASSWORD|_KEY)", dockerfile, re.M) == []
    # and .env.example holds placeholders only, which check --deploy flags (a key < 50 chars)
    example = env_example()
    assert "change-me" in example["SECRET_KEY"] and len(example["SECRET_KEY"]) < 50
    assert example["POSTGRES_PASSWORD"] == "change-me"
    assert example["FACE_TEMPLATE_KEY"] == example["EMAIL_HOST_PASSWORD"] == ""


def test_env_example_serves_its_site_address_over_https_behind_the_proxy() -> None:
    example = env_example()
    site = example["SITE_ADDRESS"]
    # given .env.example / then Django accepts the host the proxy serves, trusts its origin,
    # and mails links to it
    assert site == "localhost" and example["CADDY_TLS"] == "internal"
    assert example["ALLOWED_HOSTS"].split(",") == [site]
    assert example["CSRF_TRUSTED_ORIGINS"] == example["SITE_URL"] == f"https://{site}"
    assert example["DEBUG"] == "false"  # production settings, secure cookies
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


def test_every_command_the_stack_runs_exists() -> None:
    stack = services()
    commands = [command_words(stack[name]) for name in APP_SERVICES]
    # given the manage.py commands / then each exists
    managed = [words[2] for words in commands if words[1:2] == ["manage.py"]]
    assert managed and set(managed) <= set(get_commands())
    # the Celery app named by -A is the project's
    for words in commands:
        if words[0] == "celery":
            assert find_app(words[words.index("-A") + 1]).main == "wellbeing"
    # and daphne accepts web's arguments and serves the ASGI application they name
    web = command_words(stack["web"])
    arguments = CommandLineInterface().parser.parse_args(web[1:])
    assert arguments.proxy_headers and arguments.application == "wellbeing.asgi:application"
    assert callable(__import__("wellbeing.asgi", fromlist=["application"]).application)


def test_compose_worker_consumes_every_celery_queue() -> None:
    command = command_words(services()["worker"])
    consumed = set(command[command.index("-Q") + 1].split(","))
    assert consumed == {queue.name for queue in settings.CELERY_TASK_QUEUES}


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return version.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="no `docker compose` (Docker Compose v2) here")
def test_docker_compose_config_accepts_the_stack(tmp_path: Path) -> None:
    # given the stack in a folder with .env copied from .env.example, as the README says
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    # when compose resolves it (parsing only: no daemon needed)
    resolved = subprocess.run(
        ["docker", "compose", "--project-directory", str(tmp_path), "config", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then it is valid, and the app's database URL is built from POSTGRES_PASSWORD
    assert resolved.returncode == 0, resolved.stderr
    config = yaml.safe_load(resolved.stdout)
    web_env = config["services"]["web"]["environment"]
    assert web_env["DATABASE_URL"] == "postgres://wellbeing:change-me@postgres:5432/wellbeing"
    assert web_env["SITE_URL"] == "https://localhost"
