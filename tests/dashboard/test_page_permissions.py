"""Every dashboard page checks permissions server-side, per role and across two schools."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from capture.models import SessionStatus
from tests.conftest import login
from tests.factories import make_classroom, make_participant, make_staff
from tests.time_series import make_session
from wellbeing.models import AuditEvent, Classroom, Organization, Participant, Role, StaffMember

REPORT_URLS = [
    reverse("dashboard:reports"),
    reverse("dashboard:reports_print"),
    reverse("dashboard:report_csv", args=["trends-classroom"]),
    reverse("dashboard:report_csv", args=["consent"]),
    reverse("dashboard:report_csv", args=["alert-rules"]),
]


def test_anonymous_visitors_are_sent_to_login(student: Participant, classroom: Classroom) -> None:
    # given a running session and a student
    session = make_session(classroom, timezone.now(), SessionStatus.RUNNING)
    urls = [
        reverse("dashboard:home"),
        reverse("dashboard:student", args=[student.pk]),
        reverse("dashboard:live", args=[session.pk]),
        *REPORT_URLS,
    ]
    for url in urls:
        # when an anonymous visitor opens the page
        response = login_free_get(url)
        # then they are redirected to the login page
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def login_free_get(url: str) -> HttpResponse:
    return Client().get(url)  # type: ignore[return-value]


def test_counselor_opens_own_student_but_gets_404_outside_caseload(
    school: Organization, counselor: StaffMember, student: Participant, other_student: Participant
) -> None:
    # given a student of the same school on another counselor's caseload
    other_counselor = make_staff(school, Role.COUNSELOR)
    not_mine = make_participant(school, "Not Mine", counselor=other_counselor)
    client = login(counselor)
    # when the counselor opens their own student, then the page renders
    assert client.get(reverse("dashboard:student", args=[student.pk])).status_code == 200
    # when they change the URL to a student outside the caseload or the school, then 404
    for outsider in (not_mine, other_student):
        response = client.get(reverse("dashboard:student", args=[outsider.pk]))
        assert response.status_code == 404
        assert outsider.full_name.encode() not in response.content
    # and a made-up id is a 404 too (no difference between 'not yours' and 'does not exist')
    assert client.get(reverse("dashboard:student", args=[999_999])).status_code == 404


def test_admin_sees_students_of_own_school_only(
    admin: StaffMember, student: Participant, other_student: Participant
) -> None:
    client = login(admin)
    assert client.get(reverse("dashboard:student", args=[student.pk])).status_code == 200
    assert client.get(reverse("dashboard:student", args=[other_student.pk])).status_code == 404


def test_teacher_never_opens_a_student_page(teacher: StaffMember, student: Participant) -> None:
    # when a teacher of the student's class tries the student page, then it is refused
    response = login(teacher).get(reverse("dashboard:student", args=[student.pk]))
    assert response.status_code == 403
    assert student.full_name.encode() not in response.content


def test_home_lists_only_the_callers_students(
    school: Organization,
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    student: Participant,
    other_student: Participant,
) -> None:
    # given another counselor's student in the same school
    not_mine = make_participant(school, "Not Mine", counselor=make_staff(school, Role.COUNSELOR))
    # when each role opens the home page
    pages = {
        staff.role: login(staff).get(reverse("dashboard:home"))
        for staff in (admin, counselor, teacher)
    }
    # then the counselor sees their caseload, the admin the school, the teacher no student
    assert b"Alex Student" in pages["counselor"].content
    assert b"Not Mine" not in pages["counselor"].content
    assert b"Alex Student" in pages["admin"].content and b"Not Mine" in pages["admin"].content
    assert b"Alex Student" not in pages["teacher"].content
    assert all(other_student.full_name.encode() not in p.content for p in pages.values())
    assert not_mine.pk


def test_live_view_per_role_and_school(
    school: Organization,
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    classroom: Classroom,
    other_admin: StaffMember,
) -> None:
    # given a running session in 7B and a teacher of another class
    session = make_session(classroom, timezone.now(), SessionStatus.RUNNING)
    other_teacher = make_staff(school, Role.TEACHER)
    make_classroom(school, "8A", teacher=other_teacher)
    url = reverse("dashboard:live", args=[session.pk])
    # then the class's teacher, counselors and admins of the school may watch it
    for staff in (teacher, counselor, admin):
        assert login(staff).get(url).status_code == 200, staff.role
    # and the page repeats the transparency notice the class was shown
    assert school.transparency_notice in login(teacher).get(url).content.decode()
    # and a teacher of another class or another school's admin gets 404
    assert login(other_teacher).get(url).status_code == 404
    assert login(other_admin).get(url).status_code == 404


@pytest.mark.parametrize("url", REPORT_URLS)
def test_reports_are_for_admins_only(
    url: str, admin: StaffMember, counselor: StaffMember, teacher: StaffMember
) -> None:
    assert login(admin).get(url).status_code == 200
    assert login(counselor).get(url).status_code == 403
    assert login(teacher).get(url).status_code == 403


def test_reports_show_only_the_admins_school(
    school: Organization, other_school: Organization, other_admin: StaffMember, admin: StaffMember
) -> None:
    # given a classroom in each school
    make_classroom(school, "North 7B")
    make_participant(school, "North Kid", classroom=Classroom.objects.get(name="North 7B"))
    room = make_classroom(other_school, "South 9C")
    make_participant(other_school, "South Kid", classroom=room)
    # when the other school's admin downloads the consent report
    text = login(other_admin).get(reverse("dashboard:report_csv", args=["consent"])).content
    # then only their own classroom appears
    assert b"South 9C" in text and b"North 7B" not in text


def test_unknown_report_is_404(admin: StaffMember) -> None:
    response = login(admin).get(reverse("dashboard:report_csv", args=["everything"]))
    assert response.status_code == 404


def test_student_view_is_audited(counselor: StaffMember, student: Participant) -> None:
    # when a counselor opens a student page
    login(counselor).get(
        reverse("dashboard:student", args=[student.pk]) + "?start=2026-01-01&end=2026-01-31"
    )
    # then one audit event names the student and the range
    event = AuditEvent.objects.get(action="participant.dashboard_view")
    assert event.participant_pseudonym == student.pseudonym
    assert event.actor == counselor.user
    assert event.detail["start"] == "2026-01-01" and event.detail["end"] == "2026-01-31"
