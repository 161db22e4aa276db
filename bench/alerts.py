"""Rule-evaluation benchmark: ``python -m bench.alerts [--participants N] [--days D] ...``.

Creates (drops and re-creates) its own database ``wellbeing_bench_alerts`` on the server of
DATABASE_URL, migrates it and bulk-loads a synthetic school with COPY (bench.alerts_school):
DailyRollup for every student and school day, and MinuteAggregate rows with their class
sessions on the most recent ``--minute-days`` school days at ``--minutes-per-day`` minutes a
student (``--lessons`` sessions a class a day), consistent with the rollups, with the
SessionTotal rows the worker would have kept for them.

Minute rows and session totals are loaded newest day first in stages (``--depths``, then all
minute days); after each stage a session-window rule (the defaults have none; this one is
switched on for the benchmark only) is timed alone, writing nothing, and EXPLAIN shows how its
query reaches the session totals, so the figures say whether evaluation cost grows with stored
history. Then,
with everything loaded, the four default rules (day windows) are timed as
``evaluate_all_organizations_task`` runs them, again with the session rule added, and for one
class as ``evaluate_session_task`` does. The last line printed is a JSON object:
``participants``, ``days``, ``seconds`` (first, writing evaluation of the default rules),
``minute_rows``, ``session_total_rows``, ``session_rule_seconds`` and more.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from bench.database import bench_database_url, recreate_database, setup_django

if TYPE_CHECKING:
    from bench.alerts_school import BenchSchool

BENCH_DB = "wellbeing_bench_alerts"


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, round(time.perf_counter() - started, 3)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def create_session_rule(school: BenchSchool) -> Any:
    """The default sustained-negative rule judged per class session instead of per day."""
    from alerts.models import Rule

    return Rule.objects.create(
        organization=school.org, slug="session-negative", name="Negative in class sessions",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=4, baseline_margin=0.10, class_margin=0.10,
        min_minutes=min(20, max(1, school.plan.lesson_minutes // 2)),
        persistence_m=3, persistence_d=5, severity="notify", mode="dry_run",
    )  # fmt: skip


def session_table_access(school: BenchSchool, rule: Any) -> list[str]:
    """EXPLAIN lines of the session-window query that touch the session-total table."""
    from alerts.evaluation import lookback_start, spec_of
    from alerts.series import session_totals

    last_day = school.calendar[-1]
    start = lookback_start([spec_of(rule)], last_day)
    plan = session_totals(school.org, start, last_day).explain()
    return [line.strip().lstrip("-> ") for line in plan.splitlines()
            if "sessiontotal" in line or "Index Cond" in line]  # fmt: skip


def analyze(table: str = "") -> None:
    """Refresh planner statistics (of one table, or of the whole benchmark database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


def time_session_rule_by_depth(
    school: BenchSchool, rule: Any, depths: list[int]
) -> list[dict[str, Any]]:
    """Load minute rows and session totals newest day first; after each depth, time the
    session rule alone."""
    from alerts.evaluation import evaluate_organization
    from bench.alerts_school import load_minute_days

    plan, loaded, rows, totals, stages = school.plan, 0, 0, 0, []
    for depth in depths:
        days = list(range(plan.days - 1 - loaded, plan.days - 1 - depth, -1))
        (added, added_totals), load_s = timed(load_minute_days, school, days)
        rows, totals, loaded = rows + added, totals + added_totals, depth
        analyze("capture_minuteaggregate")
        analyze("capture_sessiontotal")
        report, seconds = timed(
            evaluate_organization, school.org, as_of=school.calendar[-1], rules=[rule], write=False
        )
        stage = {"minute_days": depth, "minute_rows": rows, "session_total_rows": totals,
                 "session_rule_seconds": seconds, "session_windows": report.windows,
                 "load_seconds": load_s,
                 "session_table_access": session_table_access(school, rule)}  # fmt: skip
        log(json.dumps(stage))
        stages.append(stage)
    return stages


def time_full_evaluations(school: BenchSchool, session_rule: Any) -> dict[str, Any]:
    """The default rules (first run writes, second is idempotent), then with the session rule
    switched on, then one class as evaluate_session_task does it."""
    from alerts.evaluation import evaluate_organization
    from alerts.models import Alert, Rule, RuleMode

    org, as_of = school.org, school.calendar[-1]
    report, seconds = timed(evaluate_organization, org, as_of=as_of)
    again, second_s = timed(evaluate_organization, org, as_of=as_of)
    defaults = list(Rule.objects.current().filter(organization=org, mode=RuleMode.ACTIVE))
    both, both_s = timed(evaluate_organization, org, as_of=as_of, rules=[*defaults, session_rule])
    one_class = set(school.pids[:25])
    _, class_s = timed(
        evaluate_organization, org, as_of=as_of, participant_ids=one_class, write=False
    )
    _, class_session_s = timed(evaluate_organization, org, as_of=as_of, rules=[session_rule],
                               participant_ids=one_class, write=False)  # fmt: skip
    return {
        "seconds": seconds,
        "second_run_seconds": second_s,
        "with_session_rule_seconds": both_s,
        "one_class_seconds": class_s,
        "one_class_session_rule_seconds": class_session_s,
        "rules": report.rules,
        "windows_loaded": report.windows,
        "alerts_raised": len(report.raised),
        "alerts_raised_second_run": len(again.raised),
        "session_alerts_raised": len(both.raised),
        "alerts_stored": Alert.objects.filter(organization=org).count(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="school days of DailyRollup")
    parser.add_argument("--minute-days", type=int, default=90,
                        help="most recent school days that also carry minute rows")  # fmt: skip
    parser.add_argument("--minutes-per-day", type=int, default=30,
                        help="observed minutes a student a day (fewer on thin days)")  # fmt: skip
    parser.add_argument("--lessons", type=int, default=2, help="class sessions a class a day")
    parser.add_argument("--depths", default="7,33",
                        help="minute days at which the session rule is timed before all "
                        "minute days are loaded (comma-separated)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = bench_database_url(BENCH_DB)
    recreate_database(url)
    setup_django(url)  # before any model import
    from bench.alerts_school import (
        MinutePlan,
        load_school,
        rollup_mismatches,
        session_total_mismatches,
    )

    plan = MinutePlan(args.days, min(args.minute_days, args.days), args.minutes_per_day,
                      args.lessons)  # fmt: skip
    school, load_s = timed(load_school, args.participants, plan, args.seed)
    log(f"loaded {school.rollup_rows} DailyRollup rows and {len(school.sessions)} sessions "
        f"in {load_s} s")  # fmt: skip
    rule = create_session_rule(school)
    depths = sorted({int(d) for d in args.depths.split(",") if d.strip()})
    depths = [d for d in depths if 0 < d < plan.minute_days]
    stages = time_session_rule_by_depth(school, rule, [*depths, plan.minute_days])
    analyze()
    figures = time_full_evaluations(school, rule)

    result = {
        "participants": args.participants,
        "days": args.days,
        "seconds": figures.pop("seconds"),
        "minute_rows": stages[-1]["minute_rows"],
        "session_total_rows": stages[-1]["session_total_rows"],
        "session_rule_seconds": stages[-1]["session_rule_seconds"],
        "session_rule_seconds_by_minute_days": {
            str(s["minute_days"]): s["session_rule_seconds"] for s in stages
        },
        **figures,
        "minute_days": plan.minute_days,
        "minutes_per_day": plan.minutes_per_day,
        "lessons_per_day": plan.lessons,
        "sessions": len(school.sessions),
        "rollup_rows": school.rollup_rows,
        "rollup_mismatches_in_sample": rollup_mismatches(school),
        "session_total_mismatches_in_sample": session_total_mismatches(school),
        "school_load_seconds": load_s,
        "minute_load_seconds": round(sum(s["load_seconds"] for s in stages), 1),
        "session_table_access": stages[-1]["session_table_access"],
        "generated": f"numpy synthetic school (seed {args.seed}): 25 per class, 3% planted "
        "5-day episodes, a class-wide hard day every 20 school days, 8% absent and 5% thin "
        "days; COPY into DailyRollup, MinuteAggregate and SessionTotal (day-constant shares, 6 "
        "observations a minute); 4 default rules active (day windows) plus one session rule",
        "cpu": "shared 2-core machine (other jobs were running)",
        "database": BENCH_DB,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
