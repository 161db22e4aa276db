"""The student page's numbers equal hand-computed means of the stored sums."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo

import pytest
from django.urls import reverse

from dashboard.series import (
    BadRangeError,
    DateRange,
    choose_resolution,
    daily_series,
    hourly_series,
    negative_sparklines,
    parse_date_range,
    sessions_attended,
    weekly_distribution,
)
from dashboard.sparklines import make_sparkline
from inference.model_manifest import CANONICAL_CLASSES, NEGATIVE_CLASSES
from tests.conftest import login
from tests.time_series import (
    add_minutes,
    add_rollup,
    make_alert,
    make_session,
    probs,
)
from wellbeing.models import Classroom, Participant, StaffMember

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = dt.UTC


def weighted(parts: list[tuple[dict[str, float], int]]) -> dict[str, float]:
    total = sum(n for _, n in parts)
    return {name: sum(p[name] * n for p, n in parts) / total for name in CANONICAL_CLASSES}


def test_hourly_buckets_are_weighted_means_in_local_hours(
    student: Participant, classroom: Classroom
) -> None:
    # given (summer time, UTC+1) 30 sad minutes at 6 obs/min and 30 happy minutes at 4 obs/min
    # in the local 09:00 hour, and 10 neutral minutes in the 10:00 hour
    sad, happy, calm = probs(sad=0.6), probs(happy=0.7), probs(neutral=0.9)
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # 09:00 in London
    session = make_session(classroom, start)
    add_minutes(student, session, start, 30, sad, per_minute=6, engaged=6)
    add_minutes(
        student, session, start + dt.timedelta(minutes=30), 30, happy, per_minute=4, engaged=2
    )
    add_minutes(
        student, session, start + dt.timedelta(minutes=75), 10, calm, per_minute=5, engaged=5
    )
    # when the hourly series of that day is read
    points = hourly_series(student, DateRange(dt.date(2026, 6, 1), dt.date(2026, 6, 1)), LONDON)
    # then there are two local hours with exact weighted means
    assert [p.label for p in points] == ["Mon 01 Jun 09:00", "Mon 01 Jun 10:00"]
    expected = weighted([(sad, 180), (happy, 120)])
    assert points[0].n == 300
    for name in CANONICAL_CLASSES:
        assert points[0].means[name] == pytest.approx(expected[name])
    assert points[0].negative_share == pytest.approx(sum(expected[k] for k in NEGATIVE_CLASSES))
    assert points[0].engagement == pytest.approx((180 + 60) / 300)
    assert points[1].n == 50 and points[1].means["neutral"] == pytest.approx(0.9)


def test_daily_series_fills_days_without_data(student: Participant) -> None:
    # given rollups on two of five days
    add_rollup(student, dt.date(2026, 3, 2), probs(sad=0.5), n=100, engaged=40)
    add_rollup(student, dt.date(2026, 3, 5), probs(happy=0.8), n=50, engaged=50, known=0)
    # when the daily series is read
    points = daily_series(student, DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 6)), LONDON)
    # then every day has a point, the empty ones without values
    assert [p.n for p in points] == [100, 0, 0, 50, 0]
    assert points[0].means["sad"] == pytest.approx(0.5) and points[0].engagement == 0.4
    assert points[1].means == {} and points[1].negative_share is None
    assert points[3].engagement is None  # engagement unknown is not 0


def test_weekly_distribution_weights_days_by_observations(student: Participant) -> None:
    # given two days in the week of 2 March and one in the next week
    a, b, c = probs(sad=0.5), probs(happy=0.5), probs(fear=0.4)
    add_rollup(student, dt.date(2026, 3, 2), a, n=300)
    add_rollup(student, dt.date(2026, 3, 4), b, n=100)
    add_rollup(student, dt.date(2026, 3, 10), c, n=60)
    # when the weekly distribution is read
    weeks = weekly_distribution(student, DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 14)))
    # then each week is the observation-weighted mean of its days
    assert [w.label for w in weeks] == ["week of 2026-03-02", "week of 2026-03-09"]
    expected = weighted([(a, 300), (b, 100)])
    assert weeks[0].n == 400
    for name in CANONICAL_CLASSES:
        assert weeks[0].means[name] == pytest.approx(expected[name])
    assert weeks[1].means["fear"] == pytest.approx(0.4)


def test_sparkline_places_days_and_leaves_gaps(student: Participant) -> None:
    # given rollups yesterday, 13 days ago and 14 days ago (outside the window)
    today = dt.date(2026, 3, 20)
    add_rollup(student, today - dt.timedelta(days=1), probs(sad=0.3, angry=0.1))
    add_rollup(student, today - dt.timedelta(days=13), probs(happy=1.0))
    add_rollup(student, today - dt.timedelta(days=14), probs(sad=1.0))
    # when the sparkline values are read
    line = negative_sparklines([student.pk], today)[student.pk]
    # then the oldest slot is 13 days ago, yesterday is the second last, the rest are gaps
    assert len(line) == 14
    assert line[0] == pytest.approx(0.0)
    assert line[12] == pytest.approx(0.4 + 2 * (0.6 / 5))
    assert [i for i, v in enumerate(line) if v is not None] == [0, 12]
    # and each lone day is drawn as a dot, not as an invisible one-point line
    spark = make_sparkline(line)
    assert spark.segments == [] and len(spark.dots) == 2


def test_sessions_attended_counts_sessions_in_range(
    student: Participant, classroom: Classroom
) -> None:
    # given three sessions, one outside the range
    for day, minutes in ((2, 40), (3, 25), (20, 10)):
        start = dt.datetime(2026, 3, day, 9, tzinfo=UTC)
        session = make_session(classroom, start, title=f"Maths {day}")
        add_minutes(student, session, start, minutes, probs())
        add_rollup(student, start.date(), probs(), n=minutes * 6)
    # when sessions attended in 1..10 March are read
    count, recent = sessions_attended(
        student, DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 10)), LONDON
    )
    # then two sessions, newest first, with their observed minutes
    assert count == 2
    assert [(s.title, s.minutes) for s in recent] == [("Maths 3", 25), ("Maths 2", 40)]


def test_date_range_parsing_and_resolution() -> None:
    today = dt.date(2026, 3, 20)
    assert parse_date_range(None, None, today) == DateRange(dt.date(2026, 3, 7), today)
    with pytest.raises(BadRangeError, match="before the start"):
        parse_date_range("2026-03-10", "2026-03-01", today)
    with pytest.raises(BadRangeError, match="at most"):
        parse_date_range("2024-01-01", "2026-03-01", today)
    with pytest.raises(BadRangeError, match="like 2026-03-01"):
        parse_date_range("yesterday", None, today)
    week = DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 7))
    assert choose_resolution(week, None) == "hour"
    assert choose_resolution(DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 1)), "hour") == "day"


def test_student_page_chart_data_matches_rollups(
    counselor: StaffMember, student: Participant
) -> None:
    # given two days of rollups
    add_rollup(student, dt.date(2026, 3, 2), probs(sad=0.5), n=100, engaged=25)
    add_rollup(student, dt.date(2026, 3, 3), probs(happy=0.9), n=300, engaged=300)
    # when the counselor opens the page for 1..31 March (daily resolution)
    url = reverse("dashboard:student", args=[student.pk]) + "?start=2026-03-01&end=2026-03-31"
    response = login(counselor).get(url)
    # then the embedded chart JSON holds the same percentages, with gaps for empty days
    block = re.search(
        rb'<script id="student-chart-data" type="application/json">(.*?)</script>',
        response.content,
    )
    assert block is not None
    data = json.loads(block.group(1))
    assert data["timeline"]["labels"][1] == "2026-03-02"
    assert data["timeline"]["series"]["sad"][1] == 50.0
    assert data["timeline"]["series"]["sad"][0] is None
    assert data["engagement"]["values"][1:3] == [25.0, 100.0]
    assert data["pie"]["happy"] == pytest.approx(round((0.9 * 300 + 0.5 / 6 * 100) / 400 * 100, 1))


def test_alert_evidence_days_are_marked_on_the_timeline(
    counselor: StaffMember, student: Participant
) -> None:
    # given an alert whose evidence names 3 and 4 March as abnormal
    for day in range(1, 6):
        add_rollup(student, dt.date(2026, 3, day), probs(sad=0.7))
    make_alert(student, [dt.date(2026, 3, 3), dt.date(2026, 3, 4)])
    # when the page shows 1..10 March per day
    url = reverse("dashboard:student", args=[student.pk]) + "?start=2026-03-01&end=2026-03-10"
    response = login(counselor).get(url)
    # then one band covers the points of 3 and 4 March and the alert is listed
    markers = response.context["chart_data"]["markers"]
    assert [(m["from"], m["to"]) for m in markers] == [(2, 3)]
    assert b"Sustained negative affect" in response.content


def test_alert_evidence_is_marked_on_the_hourly_timeline_in_local_days(
    counselor: StaffMember, student: Participant, classroom: Classroom
) -> None:
    # given class hours on 2, 3 and 4 June (London summer time: local 00:30 is 23:30 UTC the
    # day before) and an alert whose evidence names 3 June only
    for day in (2, 3, 4):
        start = dt.datetime(2026, 6, day, 0, 30, tzinfo=LONDON)
        session = make_session(classroom, start)
        add_minutes(student, session, start, 60, probs(sad=0.6))
        add_minutes(student, session, start + dt.timedelta(hours=9), 30, probs(sad=0.6))
    make_alert(student, [dt.date(2026, 6, 3)])
    # when the page shows 1..5 June per hour
    url = reverse("dashboard:student", args=[student.pk])
    response = login(counselor).get(f"{url}?start=2026-06-01&end=2026-06-05&resolution=hour")
    # then one band covers exactly the hours of 3 June (local), not the UTC day
    data = response.context["chart_data"]
    labels = data["timeline"]["labels"]
    (marker,) = data["markers"]
    covered = labels[marker["from"] : marker["to"] + 1]
    assert covered == [f"Wed 03 Jun {hour:02d}:00" for hour in range(10)]
    # and the hours without observations between 01:00 and 09:00 are gaps, not joined up
    sad = data["timeline"]["series"]["sad"][marker["from"] : marker["to"] + 1]
    assert [v is not None for v in sad] == [True, True, *[False] * 7, True]
