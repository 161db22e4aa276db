"""The benchmark's synthetic school: minute rows add up to the daily rollups and session
totals it times against."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count

from alerts import series
from alerts.series import load_session_series
from bench.alerts_school import (
    MinutePlan,
    load_minute_days,
    load_school,
    rollup_mismatches,
    session_total_mismatches,
)
from capture.models import DailyRollup, MinuteAggregate, SessionTotal

pytestmark = pytest.mark.django_db

PLAN = MinutePlan(days=12, minute_days=4, minutes_per_day=30, lessons=2)


def table_indexes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN "
            "('capture_minuteaggregate', 'capture_sessiontotal') ORDER BY indexname"
        )
        return [row[0] for row in cursor.fetchall()]


def test_minute_rows_sum_to_the_rollups_and_session_totals_of_the_minute_days() -> None:
    # given: a 60-student school, 12 school days of rollups, the last 4 with minute rows
    school = load_school(60, PLAN, seed=3)
    indexes = table_indexes()
    # when: the minute days are loaded newest first
    rows, totals = load_minute_days(school, [11, 10, 9, 8])
    # then: every rollup of a minute day and every session total is the sum of its minute rows,
    # none is missing, the older days have no minute rows, and the indexes dropped for COPY are
    # all back
    assert rows == MinuteAggregate.objects.count() > totals == SessionTotal.objects.count() > 0
    assert rollup_mismatches(school, sample=60) == 0
    assert session_total_mismatches(school, sample=60) == 0
    first_minute_day = school.calendar[PLAN.first_minute_day]
    minute_days = DailyRollup.objects.filter(day__gte=first_minute_day)
    assert sum(minute_days.values_list("minutes_observed", flat=True)) == rows
    assert not MinuteAggregate.objects.filter(minute__date__lt=first_minute_day).exists()
    assert table_indexes() == indexes


def test_session_windows_are_the_lessons_each_student_attended() -> None:
    # given: the same school with its minute days loaded
    school = load_school(60, PLAN, seed=3)
    load_minute_days(school, [11, 10, 9, 8])
    # when: the engine sums the minute rows per class session
    bundle = load_session_series(
        school.org, school.calendar[0], school.calendar[-1], set(school.pids)
    )
    # then: one window per student and attended lesson, with that lesson's minute rows
    per_session = MinuteAggregate.objects.values("participant_id", "session_id").annotate(
        minutes=Count("id")
    )
    expected = {(r["participant_id"], f"session {r['session_id']}"): r["minutes"]
                for r in per_session}  # fmt: skip
    loaded = {(pid, w.label): int(w.totals[-1]) for pid, ws in bundle.windows.items() for w in ws}
    assert loaded == expected
    assert max(loaded.values()) == PLAN.lesson_minutes


def test_one_class_reads_the_same_session_windows_as_the_whole_school(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the school with its minute days loaded, and the first class's students
    school = load_school(60, PLAN, seed=3)
    load_minute_days(school, [11, 10, 9, 8])
    first_class = set(school.pids[:25])
    start, end = school.calendar[0], school.calendar[-1]
    # when: the class is loaded alone (filtered in SQL) and within the whole school (unfiltered)
    alone = load_session_series(school.org, start, end, first_class)
    monkeypatch.setattr(series, "SMALL_SELECTION", 0)
    whole = load_session_series(school.org, start, end, set(school.pids))
    # then: the class's windows are the same either way, and only theirs were read alone
    assert alone.windows == {pid: whole.windows[pid] for pid in first_class}
    assert alone.school_days == whole.school_days
