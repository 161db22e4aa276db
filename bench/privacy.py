"""Retention-purge throughput: ``python -m bench.privacy [--rows N] [--batch B]``.

Loads N expired raw observations (plus as many fresh ones, which must survive) with COPY into
its own database ``wellbeing_bench_privacy``, runs the nightly purge and prints, as the last
line, JSON with rows removed, seconds and rows per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from bench.database import bench_database_url, copy_rows, recreate_database, setup_django

PROBS = "0.1\t0.0\t0.1\t0.2\t0.3\t0.3\t0.0"


def load(rows: int) -> tuple[int, int]:
    """A school, one student, one session and 2 x ``rows`` observations (half expired)."""
    from django.utils import timezone

    from capture.models import ClassSession
    from wellbeing.models import Classroom, Jurisdiction, Organization, Participant

    org = Organization.objects.create(name="Bench", slug="bench", jurisdiction=Jurisdiction.UK)
    classroom = Classroom.objects.create(organization=org, name="B1")
    student = Participant.objects.create(organization=org, full_name="Bench Student")
    session = ClassSession.objects.create(classroom=classroom, status="ended")
    now = timezone.now()
    columns = ["organization_id", "participant_id", "session_id", "frame_id", "captured_at",
               "p_angry", "p_disgust", "p_fear", "p_happy", "p_neutral", "p_sad", "p_surprise",
               "emotion", "quality"]  # fmt: skip
    lines = []
    for i in range(2 * rows):
        when = now - dt.timedelta(days=30 if i < rows else 1, seconds=i)
        lines.append(f"{org.pk}\t{student.pk}\t{session.pk}\t1:{i}\t{when.isoformat()}\t"
                     f"{PROBS}\tsad\t0.9\n")  # fmt: skip
    copy_rows("capture_observation", columns, lines)
    return org.pk, 2 * rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="expired observations")
    parser.add_argument("--batch", type=int, default=5000, help="rows per delete batch")
    args = parser.parse_args()
    url = bench_database_url("wellbeing_bench_privacy")
    recreate_database(url)
    setup_django(url)
    from capture.models import Observation
    from privacy.retention import purge_expired_data

    _, loaded = load(args.rows)
    started = time.monotonic()
    removed = purge_expired_data(batch_size=args.batch)
    seconds = time.monotonic() - started
    kept = Observation.objects.count()
    assert removed["capture.observation"] == args.rows and kept == loaded - args.rows
    print(json.dumps({
        "rows_loaded": loaded, "rows_purged": removed["capture.observation"], "rows_kept": kept,
        "batch_size": args.batch, "seconds": round(seconds, 3),
        "rows_per_s": round(removed["capture.observation"] / seconds),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
