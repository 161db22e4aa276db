"""Alert evidence bands on the student timeline (dashboard.student_overview.alert_markers)."""

from __future__ import annotations

import datetime as dt

from dashboard.alert_feed import AlertSummary
from dashboard.series import SeriesPoint
from dashboard.student_overview import alert_markers

UTC = dt.UTC


def day_points(start: dt.date, observed: list[bool]) -> list[SeriesPoint]:
    """One point a calendar day from ``start``; days without observations have n = 0."""
    points = []
    for i, seen in enumerate(observed):
        day = start + dt.timedelta(days=i)
        at = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
        means = {"sad": 0.5} if seen else {}
        points.append(SeriesPoint(day.isoformat(), 10 if seen else 0, means, None, None, at))
    return points


def alert(days: list[dt.date]) -> AlertSummary:
    raised = dt.datetime(2026, 12, 8, tzinfo=UTC)
    return AlertSummary(1, "negative affect", "HIGH", "open", raised, "", "/", days=days)


def test_a_streak_of_school_days_across_a_weekend_is_one_band() -> None:
    # given Tue 1 Dec to Mon 7 Dec with no data on the weekend, and an alert whose evidence is
    # Tue-Fri and Mon (five school days in a row)
    tue = dt.date(2026, 12, 1)
    points = day_points(tue, [True, True, True, True, False, False, True])
    evidence = [tue + dt.timedelta(days=d) for d in (0, 1, 2, 3, 6)]
    # when the bands are computed, then one band covers Tuesday to Monday
    assert [(m["from"], m["to"]) for m in alert_markers(points, [alert(evidence)])] == [(0, 6)]


def test_an_observed_day_outside_the_evidence_splits_the_band() -> None:
    # given five observed days of which the middle one is not an evidence day
    start = dt.date(2026, 11, 30)
    points = day_points(start, [True] * 5)
    evidence = [start + dt.timedelta(days=d) for d in (0, 1, 3, 4)]
    # when the bands are computed, then there are two, around the observed ordinary day
    bands = alert_markers(points, [alert(evidence)])
    assert [(m["from"], m["to"]) for m in bands] == [(0, 1), (3, 4)]
    assert bands[0]["label"] == "negative affect (high)"
