"""Caseload home: search, sorting by status columns, pagination, open-alert counts."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from dashboard.caseload import BadSortError, caseload_queryset
from tests.conftest import login
from tests.factories import make_participant
from tests.time_series import add_rollup, make_alert, probs
from wellbeing.models import Organization, StaffMember


def test_sorting_by_negative_share_puts_students_without_data_last(
    school: Organization, counselor: StaffMember
) -> None:
    # given three students: mostly sad, mostly happy, and one never observed
    today = school.local_today()
    sad = make_participant(school, "Bea Sad", counselor=counselor)
    happy = make_participant(school, "Cal Happy", counselor=counselor)
    unseen = make_participant(school, "Abe Unseen", counselor=counselor)
    add_rollup(sad, today, probs(sad=0.8))
    add_rollup(happy, today - dt.timedelta(days=3), probs(happy=0.9))
    # when sorted by negative share, both directions
    down = list(caseload_queryset(counselor, today, sort="-negative"))
    up = list(caseload_queryset(counselor, today, sort="negative"))
    # then the order follows the 14-day share and the unobserved student is always last
    assert down == [sad, happy, unseen]
    assert up == [happy, sad, unseen]
    assert getattr(down[0], "negative_14d") > 0.8  # noqa: B009


def test_old_data_does_not_count_towards_the_14_day_share(
    school: Organization, counselor: StaffMember
) -> None:
    today = school.local_today()
    student = make_participant(school, "Old Data", counselor=counselor)
    add_rollup(student, today - dt.timedelta(days=14), probs(sad=1.0))
    (row,) = caseload_queryset(counselor, today)
    assert getattr(row, "negative_14d") is None  # noqa: B009


def test_search_matches_name_or_pseudonym(school: Organization, counselor: StaffMember) -> None:
    today = school.local_today()
    ana = make_participant(school, "Ana Lopez", counselor=counselor)
    make_participant(school, "Ben Okafor", counselor=counselor)
    assert list(caseload_queryset(counselor, today, query="lopez")) == [ana]
    assert list(caseload_queryset(counselor, today, query=ana.pseudonym[2:].lower())) == [ana]


def test_unknown_sort_is_rejected_by_the_query_and_ignored_by_the_page(
    school: Organization, counselor: StaffMember
) -> None:
    make_participant(school, "Ana Lopez", counselor=counselor)
    try:
        caseload_queryset(counselor, school.local_today(), sort="password")
    except BadSortError as exc:
        assert "Unknown sort" in str(exc)
    else:
        raise AssertionError("an unknown sort key must raise")
    response = login(counselor).get(reverse("dashboard:home") + "?sort=password")
    assert response.status_code == 200 and b"Ana Lopez" in response.content


def test_pagination_keeps_search_and_sort(school: Organization, counselor: StaffMember) -> None:
    # given 30 students on the caseload
    for i in range(30):
        make_participant(school, f"Student {i:02d}", counselor=counselor)
    # when page 2 sorted by name descending is opened
    response = login(counselor).get(reverse("dashboard:home") + "?sort=-name&page=2&q=Student")
    # then it holds the last 5 and the links keep the sort and search
    body = response.content.decode()
    assert "Student 04" in body and "Student 05" not in body and "Student 00" in body
    assert "Page 2 of 2" in body
    assert "sort=-name&amp;q=Student" in body


def test_open_alerts_are_counted_per_student(school: Organization, counselor: StaffMember) -> None:
    # given a student with one open and one resolved alert and a student without alerts
    today = school.local_today()
    flagged = make_participant(school, "Flagged", counselor=counselor)
    calm = make_participant(school, "Calm", counselor=counselor)
    make_alert(flagged, [today])
    make_alert(flagged, [today], state="resolved")
    # when sorted by open alerts, most first
    rows = list(caseload_queryset(counselor, today, sort="-alerts"))
    # then only the open alert counts
    assert [(r, getattr(r, "open_alerts")) for r in rows] == [(flagged, 1), (calm, 0)]  # noqa: B009


def test_sorting_by_last_seen_puts_never_seen_students_last(
    school: Organization, counselor: StaffMember
) -> None:
    # given students seen an hour ago, a week ago, and never
    now = timezone.now()
    recent = make_participant(school, "Recent", counselor=counselor)
    older = make_participant(school, "Older", counselor=counselor)
    never = make_participant(school, "Never", counselor=counselor)
    for kid, seen in ((recent, now - dt.timedelta(hours=1)), (older, now - dt.timedelta(days=7))):
        kid.last_seen_at = seen
        kid.save(update_fields=["last_seen_at"])
    # when sorted by last seen, both directions
    today = school.local_today()
    latest_first = list(caseload_queryset(counselor, today, sort="-last_seen"))
    oldest_first = list(caseload_queryset(counselor, today, sort="last_seen"))
    # then the order follows the time and the never-seen student is always last
    assert latest_first == [recent, older, never]
    assert oldest_first == [older, recent, never]
    # and the page marks the sorted column for screen readers
    body = login(counselor).get(reverse("dashboard:home") + "?sort=-last_seen").content.decode()
    assert 'aria-sort="descending"><a href="?sort=last_seen">Last seen' in body
