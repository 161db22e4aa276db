"""Rule-evaluation benchmark: ``python -m alerts.benchmark [--participants N] [--days D]``.

Creates (drops and re-creates) its own database ``wellbeing_bench_alerts`` on the server of
DATABASE_URL, migrates it, bulk-loads a synthetic school with COPY (participants, classroom
memberships, consent records, one DailyRollup row per student and school day) and times
``evaluate_organization`` with all four default rules switched on. The last line printed is a
JSON object with ``participants``, ``days`` and ``seconds`` (first, writing evaluation).

What is measured: day-window rules, which read DailyRollup (the per-day sums the pipeline keeps).
90 days of per-minute rows for 10,000 students (~270 million rows) are not generated: the engine
never reads minute rows for day windows, and session windows are summed per session in SQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

from wellbeing.bench_database import bench_database_url, copy_rows, recreate_database, setup_django

BENCH_DB = "wellbeing_bench_alerts"


def load_school(participants: int, days: int, seed: int) -> tuple[Any, dt.date, int]:
    """Bulk-load the synthetic school; returns (organization, last day, rollup rows)."""
    from alerts.models import Rule
    from alerts.replay import generate_daily_arrays, weekdays
    from capture.models import DailyRollup
    from consent.models import ConsentNotice, ConsentRecord
    from wellbeing.models import Classroom, Organization, Participant

    org = Organization.objects.create(name="Bench School", slug="bench", jurisdiction="uk")
    Rule.objects.filter(organization=org).update(mode="active")
    notice = ConsentNotice.objects.create(organization=org, version=1, title="t", text="t")
    cols = generate_daily_arrays(participants, days, seed)
    n_classes = int(cols["classroom"].max()) + 1
    Classroom.objects.bulk_create(
        Classroom(organization=org, name=f"C{i:04d}") for i in range(n_classes)
    )
    class_ids = list(
        Classroom.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    copy_rows(
        Participant._meta.db_table,
        ["organization_id", "pseudonym", "full_name", "grade", "created_at"],
        [f"{org.pk}\tB-{i:08d}\tBench Student {i}\t7\t{now}\n" for i in range(participants)],
    )
    pids = list(
        Participant.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
    )
    through = Participant.classrooms.through._meta.db_table
    copy_rows(through, ["participant_id", "classroom_id"],
              [f"{pid}\t{class_ids[i // 25]}\n" for i, pid in enumerate(pids)])  # fmt: skip
    copy_rows(
        ConsentRecord._meta.db_table,
        ["participant_id", "notice_id", "scopes", "decision", "given_by", "evidence_reference",
         "evidence_date", "recorded_at", "withdrawal_note"],
        [f'{pid}\t{notice.pk}\t["emotion_analysis", "face_template"]\tgrant\tstudent\tbench\t'
         f"2026-01-01\t{now}\t\n" for pid in pids],
    )  # fmt: skip
    calendar = [d.isoformat() for d in weekdays(dt.date(2026, 1, 5), days)]
    sums = ["s_angry", "s_disgust", "s_fear", "s_happy", "s_neutral", "s_sad", "s_surprise"]
    zero = [0.0] * cols["n"].size
    lines = [
        f"{org.pk}\t{pids[p]}\t{calendar[d]}\t{n}\t" + "\t".join(f"{v:.3f}" for v in s)
        + f"\t{e}\t{n}\t0\t{m}\t1\n"
        for p, d, n, e, m, *s in zip(
            cols["participant"].tolist(), cols["day"].tolist(), cols["n"].tolist(),
            cols["engaged_n"].tolist(), cols["minutes"].tolist(),
            *[cols[c].tolist() if c in cols else zero for c in sums], strict=True,
        )
    ]  # fmt: skip
    copy_rows(
        DailyRollup._meta.db_table,
        ["organization_id", "participant_id", "day", "n", *sums, "engaged_n",
         "engagement_known_n", "quality_sum", "minutes_observed", "sessions"],
        lines,
    )  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return org, dt.date.fromisoformat(calendar[-1]), len(lines)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, round(time.perf_counter() - started, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    url = bench_database_url(BENCH_DB)
    recreate_database(url)
    setup_django(url)
    from alerts.evaluation import evaluate_organization
    from alerts.models import Alert

    (org, last_day, rows), load_s = timed(load_school, args.participants, args.days, args.seed)
    print(f"loaded {rows} DailyRollup rows with COPY in {load_s} s", file=sys.stderr)
    report, seconds = timed(evaluate_organization, org, as_of=last_day)
    again, second_s = timed(evaluate_organization, org, as_of=last_day)
    # What evaluate_session_task does after a lesson: one class of 25, classmates for the median.
    one_class = set(org.participants.order_by("pk").values_list("pk", flat=True)[:25])
    _, class_s = timed(
        evaluate_organization, org, as_of=last_day, participant_ids=one_class, write=False
    )
    result = {
        "participants": args.participants,
        "days": args.days,
        "seconds": seconds,
        "second_run_seconds": second_s,
        "rules": report.rules,
        "rows": rows,
        "windows_loaded": report.windows,
        "alerts_raised": len(report.raised),
        "alerts_raised_second_run": len(again.raised),
        "alerts_stored": Alert.objects.filter(organization=org).count(),
        "one_class_seconds": class_s,
        "load_seconds": load_s,
        "generated": f"numpy synthetic school (seed {args.seed}): 25 per class, 3% planted "
        "5-day episodes, a class-wide hard day every 20 school days, 8% absent and 5% thin "
        "days; COPY into DailyRollup; all 4 default rules active, day windows",
        "database": BENCH_DB,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
