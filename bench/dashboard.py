"""Student page server time with one year of per-minute aggregates (``make bench-dashboard``).

Usage: ``python -m bench.dashboard [--repeat 30] [--minutes-per-day 360] [--rebuild]``

Builds (once; reused while its size matches) one student with a year of school-day minute
aggregates and the matching daily rollups in a separate database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/wellbeing_bench_dash; created when missing), then renders
the student page in-process through Django's test client (URL routing, permission check,
queries, audit write, template rendering: the server's share of a request, no network) and
prints JSON, last line: student_page_ms (the worst p95 of the default 14-day page, a
whole-year range and a 31-day hourly range), p50/p95 of each of them, and the row counts.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlparse

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wellbeing_bench_dash"
BENCH_SLUG = "bench-dashboard"


def configure_django(database_url: str) -> None:
    """Point Django at the benchmark database (never the one in DATABASE_URL)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wellbeing.test_settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    """CREATE DATABASE when the benchmark database does not exist yet."""
    import psycopg2

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
        dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def build_world(minutes_per_day: int, seed: int = 7) -> dict[str, Any]:
    """Org, counselor, classroom, one student, a session per school day, a year of minutes."""
    import datetime as dt

    from django.contrib.auth.models import User
    from django.db import transaction

    from wellbeing.models import (
        CaseloadAssignment,
        Classroom,
        Jurisdiction,
        Organization,
        Participant,
        Role,
        StaffMember,
    )

    Organization.objects.filter(slug=BENCH_SLUG).delete()
    User.objects.filter(username="bench-counselor").delete()
    with transaction.atomic():
        org = Organization.objects.create(
            name="Bench School", slug=BENCH_SLUG, jurisdiction=Jurisdiction.UK,
            timezone="Europe/London",
            two_factor_roles=[],  # the bench times pages, not the sign-in (force_login)
        )  # fmt: skip
        # A throwaway account in the throwaway benchmark database.
        user = User.objects.create_user("bench-counselor", password=None)
        counselor = StaffMember.objects.create(user=user, organization=org, role=Role.COUNSELOR)
        room = Classroom.objects.create(organization=org, name="Bench 7B", grade="7")
        student = Participant.objects.create(organization=org, full_name="Bench Student")
        student.classrooms.add(room)
        CaseloadAssignment.objects.create(counselor=counselor, participant=student)
    today = org.local_today()
    days = [today - dt.timedelta(days=i) for i in range(365)]
    school_days = sorted(d for d in days if d.weekday() < 5)
    write_minutes(org, room, student, school_days, minutes_per_day, seed)
    return {"org": org, "student": student, "counselor": counselor}


def write_minutes(
    org: Any, room: Any, student: Any, school_days: list[Any], minutes_per_day: int, seed: int
) -> None:
    """COPY the minute rows (fast), then derive DailyRollup in SQL as the pipeline would."""
    import datetime as dt

    import numpy as np
    from django.db import connection

    from capture.models import SUM_FIELDS, ClassSession, SessionStatus

    rng = np.random.default_rng(seed)
    buffer = io.StringIO()
    for day in school_days:
        start = dt.datetime.combine(day, dt.time(8, 30), tzinfo=org.tzinfo).astimezone(dt.UTC)
        session = ClassSession.objects.create(
            classroom=room, title=f"Day {day}", status=SessionStatus.ENDED, started_at=start
        )
        mood = rng.dirichlet(np.array([1, 1, 1, 4, 8, 2, 1], dtype=float) * 3)
        probs = rng.dirichlet(mood * 40, size=minutes_per_day)
        n = rng.integers(30, 61, size=minutes_per_day)
        engaged = (n * rng.uniform(0.4, 1.0, size=minutes_per_day)).astype(int)
        for i in range(minutes_per_day):
            minute = start + dt.timedelta(minutes=i)
            sums = "\t".join(f"{p * n[i]:.4f}" for p in probs[i])
            buffer.write(
                f"{org.pk}\t{student.pk}\t{session.pk}\t{minute.isoformat()}\t{n[i]}\t{sums}\t"
                f"{engaged[i]}\t{n[i]}\t{0.8 * n[i]:.3f}\n"
            )
    columns = ["organization_id", "participant_id", "session_id", "minute", "n", *SUM_FIELDS]
    columns += ["engaged_n", "engagement_known_n", "quality_sum"]
    buffer.seek(0)
    with connection.cursor() as cur:
        cur.cursor.copy_expert(  # the raw psycopg2 cursor
            f"COPY capture_minuteaggregate ({', '.join(columns)}) FROM STDIN", buffer
        )
        sums_sql = ", ".join(f"SUM({f})" for f in SUM_FIELDS)
        # Only constant column names are interpolated; values travel as parameters.
        cur.execute(
            f"INSERT INTO capture_dailyrollup (organization_id, participant_id, day, n, "  # noqa: S608
            f"{', '.join(SUM_FIELDS)}, engaged_n, engagement_known_n, quality_sum, "
            f"minutes_observed, sessions) "
            f"SELECT organization_id, participant_id, (minute AT TIME ZONE %s)::date, SUM(n), "
            f"{sums_sql}, SUM(engaged_n), SUM(engagement_known_n), SUM(quality_sum), COUNT(*), "
            f"COUNT(DISTINCT session_id) FROM capture_minuteaggregate WHERE participant_id = %s "
            f"GROUP BY 1, 2, 3",
            [org.timezone, student.pk],
        )
        cur.execute("ANALYZE capture_minuteaggregate; ANALYZE capture_dailyrollup")


def existing_world(minutes_per_day: int) -> dict[str, Any] | None:
    """The world from an earlier run when it has the requested size, else None."""
    from capture.models import MinuteAggregate
    from wellbeing.models import Participant, StaffMember

    student = Participant.objects.filter(organization__slug=BENCH_SLUG).first()
    if student is None:
        return None
    sessions = student.minute_aggregates.values("session").distinct().count()
    rows = MinuteAggregate.objects.filter(participant=student).count()
    if not sessions or rows != sessions * minutes_per_day:
        return None
    counselor = StaffMember.objects.get(organization=student.organization, role="counselor")
    return {"org": student.organization, "student": student, "counselor": counselor}


def time_page(client: Any, url: str, repeat: int) -> dict[str, float]:
    """p50/p95/max milliseconds of GET ``url`` after two warm-up requests."""
    for _ in range(2):
        assert client.get(url).status_code == 200
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {
        "p50": round(statistics.median(samples), 1),
        "p95": round(p95, 1),
        "max": round(samples[-1], 1),
    }


def run(repeat: int, minutes_per_day: int, rebuild: bool) -> dict[str, Any]:
    import datetime as dt

    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from capture.models import DailyRollup, MinuteAggregate

    call_command("migrate", verbosity=0)
    build_started = time.perf_counter()
    world = None if rebuild else existing_world(minutes_per_day)
    built = world is None
    world = world or build_world(minutes_per_day)
    build_s = time.perf_counter() - build_started
    student = world["student"]
    client = Client()
    client.force_login(world["counselor"].user)
    base = reverse("dashboard:student", args=[student.pk])
    # The page's default range ends on the school's today; the explicit ranges match it.
    today = world["org"].local_today()
    default = time_page(client, base, repeat)
    year = time_page(client, f"{base}?start={today - dt.timedelta(days=365)}&end={today}", repeat)
    hourly = time_page(
        client, f"{base}?start={today - dt.timedelta(days=30)}&end={today}&resolution=hour", repeat
    )
    return {
        "rows": MinuteAggregate.objects.filter(participant=student).count(),
        "daily_rollups": DailyRollup.objects.filter(participant=student).count(),
        "minutes_per_school_day": minutes_per_day,
        "built_now": built,
        "build_s": round(build_s, 1),
        "repeat": repeat,
        "p50_ms": default["p50"],
        "p95_ms": default["p95"],
        "year_range_p50_ms": year["p50"],
        "year_range_p95_ms": year["p95"],
        "hourly_31d_p50_ms": hourly["p50"],
        "hourly_31d_p95_ms": hourly["p95"],
        "student_page_ms": max(default["p95"], year["p95"], hourly["p95"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--minutes-per-day", type=int, default=360, help="observed minutes per school day"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data even if present")
    args = parser.parse_args(argv)
    if not 1 <= args.minutes_per_day <= 1440 or args.repeat < 1:
        parser.error("--minutes-per-day must be 1..1440 and --repeat at least 1")
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    configure_django(url)
    result = run(args.repeat, args.minutes_per_day, args.rebuild)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
