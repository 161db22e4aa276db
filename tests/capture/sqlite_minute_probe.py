"""Run by tests/capture/test_sqlite_minute_format.py in a child process on the demo's SQLite.

``python -m tests.capture.sqlite_minute_probe DB_FILE`` migrates a fresh SQLite file, stores two
frames of one student in the same minute through the worker's raw upserts and prints, as JSON,
what was stored and what the ORM finds. A child process because the test suite's own database
is PostgreSQL, and the bug lived only in SQLite's handling of raw datetime parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys


def main(db_file: str) -> None:
    os.environ.update(DATABASE_URL=f"sqlite:///{db_file}", DEBUG="true")
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "wellbeing.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(json.dumps(store_two_frames(db_file)))


def store_two_frames(db_file: str) -> dict[str, object]:
    from capture.models import ClassSession, DailyRollup, MinuteAggregate, SessionTotal
    from capture.timeseries import FaceObservation, FrameOutcome, store_frame_outcome
    from inference.model_manifest import CANONICAL_CLASSES
    from tests.factories import (
        grant_consent,
        make_classroom,
        make_guardian,
        make_notice,
        make_organization,
        make_participant,
    )

    org = make_organization()
    make_notice(org)
    student = make_participant(org, classroom=make_classroom(org))
    grant_consent(student, make_guardian(student))
    session = ClassSession.objects.create(classroom=student.classrooms.get(), status="running")
    nine = dt.datetime(2026, 3, 2, 9, 0, 5, tzinfo=dt.UTC)
    probs = {name: 0.0 for name in CANONICAL_CLASSES} | {"neutral": 1.0}
    for i in range(2):
        face = FaceObservation(student.pk, probs, "neutral", True, 0.0, 0.0, 0.9)
        at = nine + dt.timedelta(seconds=10 * i)
        store_frame_outcome(
            org.pk, org.tzinfo, FrameOutcome(f"cam:{i}", session.pk, None, at, 1, 0, 0, [face])
        )
    with sqlite3.connect(db_file) as raw:
        stored = raw.execute("SELECT minute FROM capture_minuteaggregate").fetchall()
    return {
        "stored_minutes": [row[0] for row in stored],
        "exact_matches": MinuteAggregate.objects.filter(minute=nine.replace(second=0)).count(),
        "rollup_sessions": DailyRollup.objects.get(participant=student).sessions,
        "session_total_first": SessionTotal.objects.get(
            participant=student
        ).first_minute.isoformat(),
    }


if __name__ == "__main__":
    main(sys.argv[1])
