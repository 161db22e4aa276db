"""Withdrawn students' pooled day totals: counted in grade and school trends under the same
small-group suppression as everyone, never shown as a group of their own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User

from consent.actions import withdraw_consent
from consent.models import ConsentRecord
from dashboard.reports import TrendRow, weekly_trends
from privacy.models import DeidentifiedDailyTotal
from tests.factories import grant_consent, make_classroom, make_guardian, make_participant
from tests.otp_codes import login_operator
from tests.time_series import add_rollup, probs
from wellbeing.actions import AuditContext
from wellbeing.models import Organization

TODAY = dt.date(2026, 3, 12)  # a Thursday; the week starts on Monday 9 March
MONDAY = dt.date(2026, 3, 9)


@pytest.fixture
def deidentifying(school: Organization, notice: Any) -> Organization:
    school.withdrawal_policy = "deidentify"
    school.save()
    return school


def _grade(org: Organization, room: str, grade: str, size: int) -> list[ConsentRecord]:
    """A consented class observed on Monday; returns each student's consent record."""
    classroom = make_classroom(org, room)
    records = []
    for i in range(size):
        kid = make_participant(org, f"{room} kid {i}", classroom=classroom)
        kid.grade = grade
        kid.save(update_fields=["grade"])
        records.append(grant_consent(kid, make_guardian(kid)))
        add_rollup(kid, MONDAY, probs(sad=0.1 * (i + 1)), n=60 + i, engaged=30)
    return records


def _withdraw(record: ConsentRecord) -> None:
    withdraw_consent(AuditContext.system(record.participant.organization), record)


def _figures(rows: list[TrendRow]) -> dict[str, tuple[Any, ...]]:
    return {r.group: (r.suppressed, r.observations, r.negative_share, r.means) for r in rows}


def test_a_shown_group_reads_the_same_after_a_withdrawal(deidentifying: Organization) -> None:
    # given grade 7 with six consented students, all shown
    records = _grade(deidentifying, "7A", "7", 6)
    by_grade = weekly_trends(deidentifying, TODAY, weeks=1, by="grade")
    school = weekly_trends(deidentifying, TODAY, weeks=1, by="school")
    # when one of them withdraws (their day total is pooled, their rows deleted)
    _withdraw(records[0])
    # then the grade and school trends show exactly the same figures and count them still
    assert _figures(weekly_trends(deidentifying, TODAY, weeks=1, by="grade")) == _figures(by_grade)
    (whole,) = weekly_trends(deidentifying, TODAY, weeks=1, by="school")
    assert _figures([whole]) == _figures(school) and whole.participants == 6
    assert DeidentifiedDailyTotal.objects.get().participants == 1


def test_a_group_of_only_pooled_totals_is_suppressed(deidentifying: Organization) -> None:
    # given grade 7 (six students) and grade 8 (one student), everyone shown at school level
    _grade(deidentifying, "7A", "7", 6)
    (only_one,) = _grade(deidentifying, "8A", "8", 1)
    # when the grade 8 student withdraws
    _withdraw(only_one)
    # then grade 8 exists in the report only as a suppressed group of one, with no figures
    rows = {r.group: r for r in weekly_trends(deidentifying, TODAY, weeks=1, by="grade")}
    assert rows["8"].suppressed and rows["8"].participants == 1
    assert rows["8"].observations is None and rows["8"].means == {}
    # and grade 7 is suppressed too, or the school total minus grade 7 would be grade 8
    assert rows["7"].suppressed


def test_pooled_rows_count_their_people(deidentifying: Organization) -> None:
    # given a grade of six
    records = _grade(deidentifying, "7A", "7", 6)
    # when two withdraw
    for record in records[:2]:
        _withdraw(record)
    # then one pooled row counts two people, and the trend still counts six
    assert DeidentifiedDailyTotal.objects.get().participants == 2
    (grade,) = weekly_trends(deidentifying, TODAY, weeks=1, by="grade")
    assert grade.participants == 6 and not grade.suppressed


def test_classroom_trends_leave_pooled_totals_out(deidentifying: Organization) -> None:
    # given a class of six, one of whom withdraws
    records = _grade(deidentifying, "7A", "7", 6)
    _withdraw(records[0])
    # then the class trend counts only the five whose data is still theirs
    (room,) = weekly_trends(deidentifying, TODAY, weeks=1, by="classroom")
    assert room.participants == 5


def test_django_admin_lists_only_rows_pooled_from_enough_people(
    deidentifying: Organization,
) -> None:
    # given one row pooled from one person and one from five (min_group_size 5)
    for grade, people in (("7", 1), ("8", 5)):
        DeidentifiedDailyTotal.objects.create(
            organization=deidentifying, grade=grade, day=MONDAY, participants=people, n=10
        )
    operator = login_operator(User.objects.create_superuser("op", "op@example.org", "pw-op-long-2"))
    # when the operator lists the pooled totals
    page = operator.get("/admin/privacy/deidentifieddailytotal/").content.decode()
    # then only the row of five is listed
    base = "/admin/privacy/deidentifieddailytotal/"
    rows = {t.grade: f"{base}{t.pk}/change/" for t in DeidentifiedDailyTotal.objects.all()}
    assert rows["8"] in page and rows["7"] not in page
