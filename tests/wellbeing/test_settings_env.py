"""One settings module, read from the environment: demo defaults and production services.

Each case imports wellbeing.settings in a fresh interpreter with exactly the given variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

REPORT = """
import json
import django
django.setup()
from django.conf import settings as s
from django.db import connection
from wellbeing.celery import app
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "driver": connection.Database.__name__ if "postgresql" in s.DATABASES["default"]["ENGINE"]
        else "sqlite3",
    "eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "backend": app.conf.result_backend,
    "channel_layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "channel_hosts": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "cache": s.CACHES["default"]["BACKEND"],
    "allowed_hosts": s.ALLOWED_HOSTS,
    "email": [s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.DEFAULT_FROM_EMAIL],
    "secret_key": s.SECRET_KEY,
    "face_key": s.FACE_TEMPLATE_KEY,
}))
"""


def _settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "wellbeing.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", REPORT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _report(**env: str) -> dict[str, object]:
    result = _settings_with(**env)
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_no_environment_is_the_embedded_demo(tmp_path: Path) -> None:
    # given only DEBUG=true (what `make demo` sets)
    got = _report(DEBUG="true", DATA_DIR=str(tmp_path))
    # then SQLite under DATA_DIR, Celery eager, in-memory channel layer, no Redis anywhere
    assert got["engine"] == "django.db.backends.sqlite3"
    assert got["db_name"] == str(tmp_path / "db.sqlite3")
    assert got["eager"] is True and got["broker"] == "memory://" and got["backend"] is None
    assert got["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert got["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert got["secret_key"] and got["face_key"]


def test_production_environment_uses_postgres_and_redis() -> None:
    # given the services of a production deployment
    redis = "redis://cache.internal:6380/3"
    got = _report(
        DEBUG="false",
        SECRET_KEY="s" * 50,
        ALLOWED_HOSTS="wellbeing.example.org, admin.example.org",
        DATABASE_URL="postgres://app:pw@db.internal:5433/wellbeing",
        REDIS_URL=redis,
        FACE_TEMPLATE_KEY="dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="true",
        DEFAULT_FROM_EMAIL="wellbeing@example.org",
    )
    # then PostgreSQL through psycopg2, Redis as broker, result backend, channel layer, cache
    assert got["engine"] == "django.db.backends.postgresql" and got["driver"] == "psycopg2"
    assert got["db_name"] == "wellbeing"
    assert got["eager"] is False and got["broker"] == redis and got["backend"] == redis
    assert got["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    hosts = got["channel_hosts"]
    assert isinstance(hosts, list) and len(hosts) == 1
    assert (hosts[0]["address"] if isinstance(hosts[0], dict) else hosts[0]) == redis
    assert got["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert got["allowed_hosts"] == ["wellbeing.example.org", "admin.example.org"]
    assert got["email"] == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.org",
        587,
        True,
        "wellbeing@example.org",
    ]


def test_production_without_secrets_gets_no_demo_fallbacks() -> None:
    # given DEBUG off and no SECRET_KEY, then the process refuses to start, naming the variable
    result = _settings_with(DEBUG="false")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    # and with a key but no FACE_TEMPLATE_KEY there is no public demo key to fall back on
    assert _report(DEBUG="false", SECRET_KEY="s" * 50)["face_key"] == ""


def test_malformed_values_are_refused_with_the_variable_name() -> None:
    result = _settings_with(DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG must be true or false" in result.stderr
    result = _settings_with(DEBUG="true", EMAIL_PORT="smtp")
    assert result.returncode != 0 and "EMAIL_PORT must be an integer" in result.stderr
