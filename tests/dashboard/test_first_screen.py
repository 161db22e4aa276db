"""The counselor's first screen: open alerts by urgency and age with their evidence in one line,
the caseload's change against each student's own baseline, and the rule comparison of the
student page, all computed by the rule engine's own functions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.evaluation import evaluate_organization
from alerts.models import Alert, Rule
from dashboard.alert_feed import evidence_line, open_alert_feed
from dashboard.rule_comparison import baseline_changes, load_rule_comparison, reference_rule
from dashboard.sparklines import make_sparkline
from tests.conftest import login
from tests.factories import make_participant
from tests.time_series import make_alert, make_class, weekdays_until, write_day
from wellbeing.models import Classroom, Organization, Participant, StaffMember


@pytest.fixture
def planted_class(
    school: Organization, classroom: Classroom, counselor: StaffMember, notice: Any
) -> tuple[list[Participant], list[dt.date]]:
    """Six consented students at 20% negative affect for 25 school days, except the first,
    who is at 60% on the last 5 (the seeded rule: threshold 45%, +10 points over the own
    baseline and over the class median, 3 of 5 days)."""
    pupils = make_class(school, classroom, 6, counselor=counselor)
    days = weekdays_until(school.local_today(), 25)
    for i, day in enumerate(days):
        for k, pupil in enumerate(pupils):
            write_day(pupil, day, 0.6 if k == 0 and i >= 20 else 0.2)
    return pupils, days


def raise_alert(school: Organization, days: list[dt.date]) -> Alert:
    report = evaluate_organization(school, as_of=days[-1])
    (alert_id,) = report.raised
    return Alert.objects.get(pk=alert_id)


def test_evidence_line_names_the_values_days_and_comparisons(
    school: Organization, planted_class: tuple[list[Participant], list[dt.date]]
) -> None:
    # given the alert the real evaluation raises for the planted student
    _, days = planted_class
    alert = raise_alert(school, days)
    # when its evidence is put in one line
    line = evidence_line(alert.evidence)
    # then it names the value, the days and what it was compared with (planted numbers)
    assert line == (
        "negative affect 60% on 5 of the last 5 school days "
        "(threshold 45%; own baseline 20%; class median up to 20%)"
    )


def test_evidence_line_falls_back_to_the_stored_summary(student: Participant) -> None:
    # given an alert whose evidence has no judged windows (an older format)
    alert = make_alert(student, [dt.date(2026, 3, 2)])
    # then the line is its summary
    assert evidence_line(alert.evidence) == "abnormal on 3 of 5 days"
    assert evidence_line(None) == ""


def test_caseload_change_uses_the_baseline_the_alert_used(
    school: Organization, planted_class: tuple[list[Participant], list[dt.date]]
) -> None:
    # given the planted class and the alert raised on the last day
    pupils, days = planted_class
    alert = raise_alert(school, days)
    rule = reference_rule(school)
    assert rule is not None and rule.slug == "sustained-negative"
    # when the caseload's change against the own baseline is read for that day
    changes = baseline_changes(school, rule, [p.pk for p in pupils], days[-1])
    planted, classmate = changes[pupils[0].pk], changes[pupils[1].pk]
    # then the baseline is the one in the alert's evidence, and the change is 60% - 20%
    assert planted.baseline == pytest.approx(alert.evidence["baseline"]["value"])
    assert planted.baseline_windows == alert.evidence["baseline"]["windows"]
    assert planted.recent == pytest.approx(0.6)
    assert planted.points == "+40 pts" and planted.beyond_margin
    assert classmate.points == "+0 pts" and not classmate.beyond_margin


def test_no_baseline_change_without_enough_history(
    school: Organization, classroom: Classroom, counselor: StaffMember, notice: Any
) -> None:
    # given a student observed on 7 school days: the rule judges the last 5, so only 2 are
    # before them, and a baseline needs 5
    (pupil,) = make_class(school, classroom, 1, counselor=counselor)
    days = weekdays_until(school.local_today(), 7)
    for day in days:
        write_day(pupil, day, 0.3)
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    # when the change is read
    change = baseline_changes(school, rule, [pupil.pk], days[-1])[pupil.pk]
    # then there is a recent value but no baseline, and the page says why
    assert change.recent == pytest.approx(0.3) and change.baseline is None
    assert change.points == "" and "no own baseline yet (2 observed days" in change.explanation


def test_rule_comparison_shows_the_numbers_of_the_evidence(
    school: Organization, planted_class: tuple[list[Participant], list[dt.date]]
) -> None:
    # given the planted student's alert
    pupils, days = planted_class
    alert = raise_alert(school, days)
    # when the student page's comparison is loaded for the evidence days
    comparison = load_rule_comparison(pupils[0], days[-5], days[-1])
    assert comparison is not None
    by_day = {d.day.isoformat(): d for d in comparison.days}
    # then each judged day has the evidence's value, class median and verdict
    for row in alert.evidence["windows"]:
        shown = by_day[row["day"]]
        assert shown.value == row["value"] and shown.class_median == row["class_median"]
        assert shown.abnormal == row["abnormal"]
    # and the baseline of the last day is the one the evaluation compared with
    assert by_day[days[-1].isoformat()].baseline == pytest.approx(
        alert.evidence["baseline"]["value"]
    )


def test_open_alerts_come_by_urgency_then_age(school: Organization, counselor: StaffMember) -> None:
    # given alerts on the caseload: notify (old), urgent (new), notify (new), a resolved urgent
    # one, and an urgent alert of a student on nobody's caseload
    now = timezone.now()
    kids = [make_participant(school, f"Kid {i}", counselor=counselor) for i in range(4)]
    other = make_participant(school, "Not Mine")
    day = school.local_today()
    old_notify = make_alert(kids[0], [day], raised_at=now - dt.timedelta(days=6))
    new_urgent = make_alert(kids[1], [day], severity="urgent", raised_at=now)
    new_notify = make_alert(kids[2], [day], raised_at=now - dt.timedelta(hours=1))
    make_alert(kids[3], [day], severity="urgent", state="resolved")
    make_alert(other, [day], severity="urgent")
    # when the counselor's first screen is read
    feed = open_alert_feed(counselor, day)
    # then urgent comes first, then the notify alerts oldest first; closed and others' are out
    assert [item.pk for item in feed.items] == [new_urgent.pk, old_notify.pk, new_notify.pk]
    assert feed.total == 3
    assert [item.age_days for item in feed.items][1] == 6


def test_feed_is_limited_and_counts_the_rest(school: Organization, counselor: StaffMember) -> None:
    # given 12 open alerts
    day = school.local_today()
    for i in range(12):
        make_alert(make_participant(school, f"Kid {i}", counselor=counselor), [day])
    # when the first screen shows 10
    feed = open_alert_feed(counselor, day, limit=10)
    # then it says there are 12
    assert len(feed.items) == 10 and feed.total == 12


def test_sparkline_draws_lone_days_as_dots_and_leaves_gaps() -> None:
    # given two runs of days and a lone day, with gaps between them
    values: list[float | None] = [0.2, 0.3, None, 0.5, None, None, 0.4, 0.4, 0.6]
    # when drawn with evidence days 7 and 8 and a threshold of 50%
    spark = make_sparkline(values, marked=[7, 8, 2], reference=0.5, width=86, height=26)
    # then each run is its own polyline, the lone day a dot, no line crosses a gap
    assert len(spark.segments) == 2 and len(spark.dots) == 1
    assert spark.segments[0] == "3.0,19.0 13.0,17.0"  # y = 3 + (1 - share) * 20
    assert spark.dots == [(33.0, 13.0)]
    # and evidence days with data are ringed, the latest is dotted, the threshold is dashed
    assert spark.marks == [(73.0, 15.0), (83.0, 11.0)] and spark.latest == (83.0, 11.0)
    assert spark.reference_y == 13.0
    assert spark.description == "negative affect over 6 observed days of 9: latest 60%, highest 60%"


def first_screen_queries(
    django_assert_max_num_queries: Any, counselor: StaffMember, limit: int
) -> str:
    client = login(counselor)
    with django_assert_max_num_queries(limit):
        response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("size", [3, 30])
def test_first_screen_queries_do_not_grow_with_the_caseload(
    django_assert_max_num_queries: Any,
    school: Organization,
    classroom: Classroom,
    counselor: StaffMember,
    notice: Any,
    size: int,
) -> None:
    # given a caseload of ``size`` observed students, every third with an open alert
    pupils = make_class(school, classroom, size, counselor=counselor)
    days = weekdays_until(school.local_today(), 10)
    for k, pupil in enumerate(pupils):
        for day in days:
            write_day(pupil, day, 0.1 + 0.02 * k)
        if k % 3 == 0:
            make_alert(pupil, days[-3:])
    # when the counselor opens the first screen (3 or 30 students, 25 a page)
    body = first_screen_queries(django_assert_max_num_queries, counselor, 24)
    # then at most 24 queries serve both (none per student or alert; a full feed adds a
    # count; the two-factor middleware's own lookups of the member and their authenticator are
    # 3 of them), and open alerts come before the caseload
    assert body.index('id="open-alerts"') < body.index('id="caseload"')
    assert body.count('class="alert-item') == min((size + 2) // 3, 10)
    assert body.count('<svg class="spark') == min((size + 2) // 3, 10) + min(size, 25)
