"""Test overrides: the real PostgreSQL and Redis on this machine, or throwaway ones started
by tests/local_services.py when none answers."""

import os
import sys

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("FACE_TEMPLATE_KEY", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=")

# Under pytest, before the settings read DATABASE_URL/REDIS_URL: use the servers that answer,
# or start throwaway ones (see tests/local_services.py; it needs to know whether DATABASE_URL
# was set by the caller, so the defaults below come after it). Type checkers importing this
# module for django-stubs start nothing.
if "pytest" in sys.modules:
    from tests.local_services import ensure_services

    ensure_services()
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wellbeing")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from wellbeing.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks in-process; reliability tests start real workers explicitly.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Generous API rates so the access-matrix tests are not throttled; tests/wellbeing checks
# throttling itself with low rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute"},
}
# Tests post many frames from one device quickly; the rate limit has its own test.
INGEST_MAX_FPS_PER_DEVICE = 10_000
