"""A dedicated PostgreSQL database for a benchmark, so benchmarks never touch real data.

Each benchmark names its own database (e.g. ``wellbeing_bench_privacy``) on the server of
DATABASE_URL, (re)creates it, points Django at it and migrates it before anything else loads.
"""

from __future__ import annotations

import io
import os
from urllib.parse import urlparse, urlunparse

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def bench_database_url(name: str, base: str | None = None) -> str:
    parts = urlparse(base or os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunparse(parts._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (only ever a benchmark's own)."""
    import psycopg2
    from psycopg2 import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if not name.startswith("wellbeing_bench"):
        raise ValueError(f"refusing to recreate {name!r}: not a benchmark database")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()


def setup_django(url: str) -> None:
    """Configure Django for the benchmark database (tasks in-process, no broker) and migrate."""
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = ""
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdef")
    os.environ.setdefault("FACE_TEMPLATE_KEY", "YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktMDA=")
    os.environ["DJANGO_SETTINGS_MODULE"] = "wellbeing.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def copy_rows(table: str, columns: list[str], lines: list[str]) -> None:
    """Bulk-load tab-separated ``lines`` into ``table`` with PostgreSQL COPY."""
    from django.db import connection

    with connection.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        cursor.cursor.copy_expert(statement, io.StringIO("".join(lines)))
