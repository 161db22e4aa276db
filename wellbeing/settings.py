"""Django settings, read from environment variables (see .env.example and the README table).

With no environment at all this runs the embedded demo: SQLite, Celery eager, in-memory channel
layer. Production sets DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and
FACE_TEMPLATE_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from kombu import Queue

# Lets admin classes and querysets be subscripted at run time (ModelAdmin[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return default if value in (None, "") else int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# The demo key only works with DEBUG on; check --deploy flags a weak key otherwise.
SECRET_KEY = env_str("SECRET_KEY", "insecure-demo-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off (see .env.example)")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    # django.contrib.admin, whose site requires a second factor (wellbeing/admin_site.py).
    "wellbeing.apps.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "channels",
    "wellbeing",
    "consent",
    "capture",
    "privacy",
    "dashboard",
    "alerts",
]

MIDDLEWARE = [
    # First: container health probes use a host outside ALLOWED_HOSTS and plain HTTP.
    "wellbeing.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "wellbeing.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After OTPMiddleware: closes the site to staff who must set up two-factor (or verify).
    "wellbeing.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: turns lockouts into a clear 429 page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: 5 failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The name authenticator apps show for the key set up at /accounts/two-factor/ (otpauth issuer).
OTP_TOTP_ISSUER = "Wellbeing"

# Staff sign-in through a school's OpenID Connect provider (wellbeing.identity_providers):
# Fernet keys (comma-separated, the first encrypts) for the client secrets stored in the
# database; empty derives one from SECRET_KEY. Seconds to wait for the provider's answers.
IDP_SECRET_KEY = env_str("IDP_SECRET_KEY")
OIDC_HTTP_TIMEOUT = env_int("OIDC_HTTP_TIMEOUT", 10)

# Content Security Policy: no inline scripts or styles anywhere (templates load static files).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # 'self' also allows ws:// and wss:// to this host (CSP 3); a bare ws:/wss: would allow
        # any host.
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "wellbeing.urls"
WSGI_APPLICATION = "wellbeing.wsgi.application"
ASGI_APPLICATION = "wellbeing.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wellbeing.context_processors.staff_context",
            ],
        },
    },
]

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Sync threads of a web (daphne) process: requests served at once, and at most as many database
# connections held, each reused for DATABASE_CONN_MAX_AGE seconds (wellbeing/asgi_handler.py).
WEB_SYNC_THREADS = env_int("WEB_SYNC_THREADS", 8)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploaded photos and frames must never touch the disk: only the in-memory upload handler is
# enabled, and anything larger than the memory limit is refused rather than spooled to a file.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 10_000_000)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)  # enrollment photos
# What enrollment (in the web request) decodes at most: a larger JPEG is decoded at 1/2, 1/4 or
# 1/8 scale, any other format above it is refused from its header (wellbeing.face_engine).
# 4000x3000; a 40 MP PNG decoded in full took ~2 s and ~370 MB of the web process.
ENROLLMENT_MAX_PIXELS = env_int("ENROLLMENT_MAX_PIXELS", 12_000_000)
# Capture frames: a camera's resolution, not a photo's. A 40-megapixel flat PNG is a few hundred
# KB yet costs a worker seconds of CPU and ~800 MB; 3840x2160 (4K) is the largest real camera.
FRAME_MAX_PIXELS = env_int("FRAME_MAX_PIXELS", 3840 * 2160)
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES * 5 + 1_000_000
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES * 5 + 1_000_000
DATA_UPLOAD_MAX_NUMBER_FILES = 5

# Face templates are encrypted with Fernet. Comma-separated keys: the first encrypts, all decrypt
# (so keys can be rotated with `manage.py rotate_template_key`).
# The demo (DEBUG on) falls back to a fixed, public key: never use it for real data.
FACE_TEMPLATE_KEY = env_str(
    "FACE_TEMPLATE_KEY", "ZGVtby1vbmx5LWtleS1kZW1vLW9ubHkta2V5LWRlbW8=" if DEBUG else ""
)

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis blocks 5 s per receive (BZPOPMIN); redis-py 8 also times reads
            # out after 5 s by default, which killed every idle live-view socket. Read longer.
            # redis-py bounds connecting and closing a connection by socket_connect_timeout
            # only (None waits forever), so a stalled Redis cannot hang a socket's close.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}]
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: eager (in-process) without Redis, so the demo needs no broker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
# Celery's Django fix-up would close every database connection before and after every task (a
# new PostgreSQL connection per frame); a worker keeps it instead and Django's own rule closes
# it when it is DATABASE_CONN_MAX_AGE old or has failed (wellbeing/celery.py). The fix-up still
# closes it after this many tasks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# Session-affine inference (capture/routing.py, docs/pipeline.md): 0 = one shared `inference`
# queue; N > 0 = a session's frames go to `inference.<session id mod N>`, each shard consumed by
# one concurrency-1 worker process. `inference` stays declared so frames queued before a switch
# can still be drained.
INFERENCE_SHARDS = max(0, env_int("INFERENCE_SHARDS", 0))
CELERY_TASK_QUEUES = (
    Queue("inference"),
    *(Queue(f"inference.{shard}") for shard in range(INFERENCE_SHARDS)),
    Queue("alerts"),
    Queue("maintenance"),
)
CELERY_TASK_ROUTES = {
    "capture.tasks.*": {"queue": "inference"},
    "alerts.tasks.*": {"queue": "alerts"},
    "consent.tasks.*": {"queue": "maintenance"},
    "privacy.tasks.*": {"queue": "maintenance"},
}
# Redelivery of a task whose worker died (acks_late): kombu restores unacknowledged messages
# after the visibility timeout; check for them every few seconds rather than every ~100 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "purge-expired-templates": {
        "task": "consent.tasks.purge_expired_templates_task",
        "schedule": crontab(hour=2, minute=30),
    },
    "purge-expired-data": {
        "task": "privacy.tasks.purge_expired_data_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "alerts-evaluate": {
        "task": "alerts.tasks.evaluate_all_organizations_task",
        "schedule": crontab(minute=15),
    },
    "alerts-escalate": {
        "task": "alerts.tasks.escalate_alerts_task",
        "schedule": crontab(minute="*/5"),
    },
    "alerts-flush-deliveries": {
        "task": "alerts.tasks.flush_due_deliveries_task",
        "schedule": crontab(minute="*/5"),
    },
    "alerts-digest": {
        "task": "alerts.tasks.send_daily_digests_task",
        "schedule": crontab(minute=0),
    },
    "consent-request-reminders": {
        "task": "consent.tasks.send_consent_reminders_task",
        "schedule": crontab(hour=9, minute=0),
    },
}

# Ingest backpressure: answer 429 when more frames than this wait in the inference queue (with
# INFERENCE_SHARDS, more than this / N in the frame's shard queue).
INGEST_MAX_QUEUE = env_int("INGEST_MAX_QUEUE", 200)
# Rate limit per capture device (the client samples 1 frame/s by default).
INGEST_MAX_FPS_PER_DEVICE = env_int("INGEST_MAX_FPS_PER_DEVICE", 5)
# Fair scheduling (capture/fair_scheduling.py, docs/pipeline.md "Fair use of the workers"):
# workers take frames round robin over schools, then devices; at most this many frames of one
# device / one school wait, beyond that its devices get 429 while other schools keep flowing.
# FAIR_SCHEDULING=false restores the single FIFO queue.
FAIR_SCHEDULING = env_bool("FAIR_SCHEDULING", True)
FAIR_MAX_PENDING_PER_DEVICE = env_int("FAIR_MAX_PENDING_PER_DEVICE", 10)
FAIR_MAX_PENDING_PER_SCHOOL = env_int("FAIR_MAX_PENDING_PER_SCHOOL", 100)
# Urgent alerts not acknowledged within this time escalate to the school's alert contacts.
ALERT_ESCALATION_MINUTES = env_int("ALERT_ESCALATION_MINUTES", 120)
# After a session ends, wait for in-flight frames before evaluating its alert rules.
ALERT_SESSION_EVALUATION_DELAY_SECONDS = env_int("ALERT_SESSION_EVALUATION_DELAY_SECONDS", 60)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "wellbeing@localhost")

# Consent collected online (consent.online_consent): how long an e-mailed link works, how many
# days an unanswered one waits before a reminder (a fresh link), and how many reminders at most.
# The public link pages accept CONSENT_LINK_RATE_LIMIT requests per address per 10 minutes.
CONSENT_REQUEST_EXPIRY_DAYS = env_int("CONSENT_REQUEST_EXPIRY_DAYS", 14)
CONSENT_REMINDER_INTERVAL_DAYS = env_int("CONSENT_REMINDER_INTERVAL_DAYS", 5)
CONSENT_MAX_REMINDERS = env_int("CONSENT_MAX_REMINDERS", 2)
CONSENT_LINK_RATE_LIMIT = env_int("CONSENT_LINK_RATE_LIMIT", 30)
# The family portal (consent.portal): a sign-in link works once, for PORTAL_LINK_EXPIRY_MINUTES;
# a portal session lasts PORTAL_SESSION_MINUTES; sign-in links may be asked for
# PORTAL_LINK_RATE_PER_EMAIL times per address and PORTAL_LINK_RATE_PER_IP times per network
# address per hour.
PORTAL_LINK_EXPIRY_MINUTES = env_int("PORTAL_LINK_EXPIRY_MINUTES", 30)
PORTAL_SESSION_MINUTES = env_int("PORTAL_SESSION_MINUTES", 60)
PORTAL_LINK_RATE_PER_EMAIL = env_int("PORTAL_LINK_RATE_PER_EMAIL", 5)
PORTAL_LINK_RATE_PER_IP = env_int("PORTAL_LINK_RATE_PER_IP", 20)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["wellbeing.permissions.IsStaffMember"],
    "DEFAULT_PARSER_CLASSES": [
        "wellbeing.api_parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_RATE_ANON", "30/minute"),
        "user": env_str("API_RATE_USER", "600/minute"),
    },
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "wellbeing.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wellbeing API",
    "DESCRIPTION": "Consent, enrollment and device management; no images are ever returned.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["wellbeing.permissions.IsStaffMember"],
    # Staff roles appear as a member's role and as the roles two-factor is required of: one enum.
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "wellbeing.models.Role"},
}

# Web security. With DEBUG off these are the production values `check --deploy` expects.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# Staff invitations are one-time set-password links (wellbeing.staff_management); seconds.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The servers' line per request (`make demo` sets WARNING, so the sign-ins stay in view).
    "loggers": {
        name: {"level": env_str("SERVER_LOG_LEVEL", "INFO")}
        for name in ("django.server", "django.channels.server")
    },
}
