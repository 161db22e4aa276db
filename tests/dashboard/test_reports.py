"""Admin reports: hand-checked weekly means, small-group suppression, consent coverage, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.report_exports import REPORT_KINDS
from dashboard.reports import BadReportError, consent_coverage, rule_outcomes, weekly_trends
from inference.model_manifest import CANONICAL_CLASSES
from tests.conftest import login
from tests.factories import (
    grant_consent,
    make_classroom,
    make_guardian,
    make_notice,
    make_participant,
)
from tests.time_series import add_rollup, make_alert, probs
from wellbeing.models import AuditEvent, Organization, Participant, StaffMember

TODAY = dt.date(2026, 3, 12)  # a Thursday; the week starts on Monday 9 March
MONDAY = dt.date(2026, 3, 9)


def make_class(org: Organization, name: str, size: int, grade: str = "7") -> list[Participant]:
    room = make_classroom(org, name)
    kids = [make_participant(org, f"{name} kid {i}", classroom=room) for i in range(size)]
    Participant.objects.filter(pk__in=[k.pk for k in kids]).update(grade=grade)
    return kids


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def test_weekly_classroom_trend_is_weighted_and_small_classes_suppressed(
    school: Organization,
) -> None:
    # given a class of 6 (sad on Monday, happy on Tuesday), a class of 5 and a class of 4
    big = make_class(school, "7A", 6)
    for kid in make_class(school, "7B", 5):
        add_rollup(kid, MONDAY, probs(happy=0.5))
    small = make_class(school, "7C", 4)
    sad, happy = probs(sad=0.6), probs(happy=0.8)
    for i, kid in enumerate(big):
        add_rollup(kid, MONDAY, sad, n=100, engaged=50)
        add_rollup(kid, MONDAY + dt.timedelta(days=1), happy, n=100 + i * 10, engaged=100)
    for kid in small:
        add_rollup(kid, MONDAY, sad)
    # when the classroom trend of this week is computed
    rows = {r.group: r for r in weekly_trends(school, TODAY, weeks=1, by="classroom")}
    # then the class of 6 has exact observation-weighted means
    happy_n = sum(100 + i * 10 for i in range(6))
    total = 600 + happy_n
    assert rows["7A"].participants == 6 and not rows["7A"].suppressed
    assert rows["7A"].observations == total
    assert rows["7A"].means["sad"] == pytest.approx((0.6 * 600 + happy["sad"] * happy_n) / total)
    assert rows["7A"].engagement == pytest.approx((6 * 50 + 6 * 100) / total)
    # and the class of 4 is listed but every figure is blank
    assert rows["7C"].suppressed and rows["7C"].participants == 4
    assert rows["7C"].negative_share is None and rows["7C"].means == {}
    # and the smallest shown class is blanked too, so school minus shown classes reveals nothing
    assert rows["7B"].suppressed and rows["7B"].participants == 5


def test_no_secondary_suppression_when_two_groups_are_hidden(school: Organization) -> None:
    # given one class of 5 and two classes of 2 in the same week
    for name, size in (("7A", 5), ("7B", 2), ("7C", 2)):
        for kid in make_class(school, name, size):
            add_rollup(kid, MONDAY, probs(sad=0.2))
    # then only the two small classes are suppressed (their sum is all the school total gives)
    rows = {r.group: r.suppressed for r in weekly_trends(school, TODAY, weeks=1, by="classroom")}
    assert rows == {"7A": False, "7B": True, "7C": True}


def test_min_group_size_is_the_organizations_setting(school: Organization) -> None:
    # given a school that suppresses groups under 3 and a class of 3
    school.min_group_size = 3
    school.save()
    for kid in make_class(school, "9B", 3, grade="9"):
        add_rollup(kid, MONDAY, probs(fear=0.5))
    # then grade 9 and the whole school are shown
    (grade,) = weekly_trends(school, TODAY, weeks=1, by="grade")
    (whole,) = weekly_trends(school, TODAY, weeks=1, by="school")
    assert grade.group == "9" and not grade.suppressed
    assert whole.group == "Whole school" and whole.means["fear"] == pytest.approx(0.5)


def test_trend_csv_writes_suppressed_not_zero(school: Organization, admin: StaffMember) -> None:
    # given a suppressed class and a shown one, observed today (school time)
    today = school.local_today()
    for kid in make_class(school, "7A", 6):
        add_rollup(kid, today, probs(sad=0.5), n=60, engaged=30)
    for kid in make_class(school, "7B", 5):
        add_rollup(kid, today, probs(sad=0.1), n=60, engaged=30)
    for kid in make_class(school, "7C", 2):
        add_rollup(kid, today, probs(sad=0.9))
    # when the admin downloads the classroom trend CSV
    response = login(admin).get(
        reverse("dashboard:report_csv", args=["trends-classroom"]) + "?weeks=2"
    )
    lines = read_csv(response.content)
    # then it is a CSV attachment with one header and one row per class and week
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert lines[0][:6] == [
        "classroom",
        "week",
        "participants",
        "observations",
        "negative_share",
        "engagement",
    ]
    assert lines[0][6:] == [f"mean_{name}" for name in CANONICAL_CLASSES]
    by_class = {line[0]: line for line in lines[1:]}
    monday = (today - dt.timedelta(days=today.weekday())).isoformat()
    shown = by_class["7A"]
    assert shown[1] == monday and shown[2] == "6" and shown[3] == "360"
    negative = 0.5 + 3 * (0.5 / 6)
    assert float(shown[4]) == pytest.approx(negative, abs=1e-4)
    assert float(shown[5]) == pytest.approx(0.5)
    assert by_class["7C"][2] == "2" and set(by_class["7C"][3:]) == {"suppressed"}
    assert set(by_class["7B"][3:]) == {"suppressed"}  # secondary suppression
    # and the export is in the audit trail
    assert AuditEvent.objects.filter(
        action="report.export", detail__kind="trends-classroom"
    ).exists()


def test_consent_coverage_counts_and_suppression(school: Organization) -> None:
    # given a notice, a class of 6 with 3 consented, a class of 5 and a class of 2
    make_notice(school)
    kids = make_class(school, "7A", 6)
    for kid in kids[:3]:
        grant_consent(kid, make_guardian(kid))
    make_class(school, "7B", 5)
    make_class(school, "7C", 2)
    # when coverage is computed
    rows = {r.group: r for r in consent_coverage(school)}
    # then each class and the school have exact counts, small classes suppressed
    assert (rows["7A"].enrolled, rows["7A"].analysable, rows["7A"].share) == (6, 3, 0.5)
    assert rows["7C"].suppressed and rows["7C"].analysable is None
    assert rows["7B"].suppressed  # secondary: the school total minus 7A would reveal 7C
    assert (rows["Whole school"].enrolled, rows["Whole school"].analysable) == (13, 3)


def test_csv_cells_cannot_start_a_formula(school: Organization, admin: StaffMember) -> None:
    # given a classroom whose name a spreadsheet would evaluate (and another class)
    make_class(school, "=HYPERLINK(1)", 5)
    make_class(school, "7Z", 5)
    # when the consent CSV is downloaded
    lines = read_csv(login(admin).get(reverse("dashboard:report_csv", args=["consent"])).content)
    # then the name is quoted as text
    assert ["'=HYPERLINK(1)", "5", "0", "0.0000"] in lines


def test_bad_weeks_are_refused_clearly(admin: StaffMember) -> None:
    client = login(admin)
    response = client.get(reverse("dashboard:report_csv", args=["consent"]) + "?weeks=abc")
    assert response.status_code == 400 and b"whole number" in response.content
    page = client.get(reverse("dashboard:reports") + "?weeks=500")
    assert page.status_code == 400 and b"between 1 and" in page.content
    with pytest.raises(BadReportError):
        weekly_trends(admin.organization, TODAY, weeks=1, by="shoe size")


def test_reports_page_and_print_view_show_the_tables(
    school: Organization, admin: StaffMember
) -> None:
    for kid in make_class(school, "7A", 5):
        add_rollup(kid, school.local_today(), probs(sad=0.5))
    client = login(admin)
    page = client.get(reverse("dashboard:reports"))
    printable = client.get(reverse("dashboard:reports_print"))
    for response in (page, printable):
        assert response.status_code == 200
        assert b"7A" in response.content and b"Consent coverage" in response.content
    assert b"school-trend-chart" in page.content
    assert b"data-print" in printable.content and b"<canvas" not in printable.content


def test_rule_outcomes_volume_ack_time_and_usefulness(
    school: Organization, student: Participant
) -> None:
    # given three alerts: acknowledged after 1 h (useful), after 3 h (not useful), still open
    raised = timezone.now() - dt.timedelta(days=2)
    day = raised.date()
    first = make_alert(student, [day], state="resolved", raised_at=raised, rule_name="Low mood")
    rule = first.rule
    first.acknowledged_at, first.useful = raised + dt.timedelta(hours=1), True
    first.save()
    second = make_alert(student, [day], state="dismissed", raised_at=raised)
    second.rule, second.rule_slug = rule, rule.slug
    second.acknowledged_at, second.useful = raised + dt.timedelta(hours=3), False
    second.save()
    third = make_alert(student, [day], raised_at=raised)
    third.rule, third.rule_slug = rule, rule.slug
    third.save()
    # when the per-rule outcomes are computed
    rows = rule_outcomes(school, timezone.localdate(), weeks=4)
    # then one row has the volume, the median wait and the usefulness share
    assert rows is not None
    (row,) = [r for r in rows if r.slug == rule.slug]
    assert (row.raised, row.open, row.acknowledged) == (3, 1, 2)
    assert row.median_ack_hours == pytest.approx(2.0)
    assert (row.rated, row.useful, row.useful_share) == (2, 1, 0.5)


EXPECTED_FIRST_CELLS = {
    "trends-classroom": ["classroom", "7A"],
    "trends-grade": ["grade", "7"],
    "trends-week": ["group", "Whole school"],
    "consent": ["group", "7A"],
    "alert-rules": ["rule", "Low mood"],
}


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_every_report_downloads_as_csv(kind: str, school: Organization, admin: StaffMember) -> None:
    # given a class of 5 observed today and an alert raised today
    kids = make_class(school, "7A", 5)
    for kid in kids:
        add_rollup(kid, school.local_today(), probs(sad=0.5))
    make_alert(kids[0], [school.local_today()], rule_name="Low mood")
    # when the admin downloads the report
    response = login(admin).get(reverse("dashboard:report_csv", args=[kind]) + "?weeks=1")
    # then it is a CSV attachment named after the school and the report, with the data row
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{school.slug}-{kind}-" in response["Content-Disposition"]
    lines = read_csv(response.content)
    assert [lines[0][0], lines[1][0]] == EXPECTED_FIRST_CELLS[kind]
    assert set(EXPECTED_FIRST_CELLS) == set(REPORT_KINDS)
