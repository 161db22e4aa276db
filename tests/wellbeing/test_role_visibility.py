"""Visibility is enforced in QuerySets: admins see their school, counselors their caseload,
teachers no individual students; nobody sees another school."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from capture.models import CaptureDevice
from tests.factories import make_participant, make_staff
from wellbeing.models import AuditEvent, Classroom, Organization, Participant, Role, StaffMember


def test_participant_visibility_matrix(
    school: Organization,
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    student: Participant,
    other_admin: StaffMember,
    other_student: Participant,
) -> None:
    # given a second counselor and a student outside the first counselor's caseload
    other_counselor = make_staff(school, Role.COUNSELOR)
    not_mine = make_participant(school, "Not Mine", counselor=other_counselor)
    visible = lambda staff: set(Participant.objects.visible_to(staff.user))  # noqa: E731
    # then each role sees exactly what it may
    assert visible(admin) == {student, not_mine}
    assert visible(counselor) == {student}
    assert visible(other_counselor) == {not_mine}
    assert visible(teacher) == set()
    assert visible(other_admin) == {other_student}
    assert set(Participant.objects.visible_to(AnonymousUser())) == set()


def test_user_without_role_sees_nothing(student: Participant) -> None:
    nobody = User.objects.create_user("norole", password="x-long-password")
    assert not Participant.objects.visible_to(nobody).exists()
    assert not Classroom.objects.visible_to(nobody).exists()


def test_teacher_sees_only_own_classrooms(
    school: Organization, teacher: StaffMember, classroom: Classroom, admin: StaffMember
) -> None:
    other_class = Classroom.objects.create(organization=school, name="8A")
    assert set(Classroom.objects.visible_to(teacher.user)) == {classroom}
    assert set(Classroom.objects.visible_to(admin.user)) == {classroom, other_class}


def test_devices_and_audit_trail_are_admin_only(
    admin: StaffMember, counselor: StaffMember, other_admin: StaffMember, student: Participant
) -> None:
    from capture.devices import create_device
    from wellbeing.actions import AuditContext

    create_device(AuditContext.system(admin.organization), "Laptop", participant=student)
    assert CaptureDevice.objects.visible_to(admin.user).count() == 1
    assert CaptureDevice.objects.visible_to(counselor.user).count() == 0
    assert CaptureDevice.objects.visible_to(other_admin.user).count() == 0
    assert AuditEvent.objects.visible_to(admin.user).count() >= 1
    assert AuditEvent.objects.visible_to(counselor.user).count() == 0
    assert AuditEvent.objects.visible_to(other_admin.user).count() == 0


def test_audit_viewer_is_admin_only_and_export_is_audited(
    admin: StaffMember, counselor: StaffMember, other_admin: StaffMember, student: Participant
) -> None:
    from django.urls import reverse

    from tests.conftest import login

    # given an audited view of a student by the admin
    login(admin).get(reverse("consent:participant", args=[student.pk]))
    # then the admin sees it in the viewer and the CSV, other roles and schools do not
    assert student.pseudonym in login(admin).get(reverse("audit")).content.decode()
    assert login(counselor).get(reverse("audit")).status_code == 403
    assert student.pseudonym not in login(other_admin).get(reverse("audit")).content.decode()
    response = login(admin).get(reverse("audit_csv") + f"?pseudonym={student.pseudonym}")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.splitlines()[0].startswith('"created_at","actor_label","action"')
    assert "participant.view" in body
    assert AuditEvent.objects.filter(action="audit.export").exists()


def test_public_retention_page_needs_no_login(school: Organization) -> None:
    from django.test import Client
    from django.urls import reverse

    page = Client().get(reverse("retention", args=[school.slug])).content.decode()
    assert f"{school.raw_observation_days} days" in page and "never stored" in page


def test_session_visibility_follows_classrooms_and_participants(
    school: Organization,
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    classroom: Classroom,
    student: Participant,
    other_admin: StaffMember,
) -> None:
    from capture.models import ClassSession

    # given a lesson in the teacher's class, one in another class, and a student's own session
    lesson = ClassSession.objects.create(classroom=classroom)
    elsewhere = ClassSession.objects.create(
        classroom=Classroom.objects.create(organization=school, name="8A")
    )
    personal = ClassSession.objects.create(participant=student)
    visible = lambda staff: set(ClassSession.objects.visible_to(staff.user))  # noqa: E731
    # then admins see all three, the teacher only their class (never a personal session),
    # the counselor the classes plus their caseload's personal session, another school nothing
    assert visible(admin) == {lesson, elsewhere, personal}
    assert visible(teacher) == {lesson}
    assert visible(counselor) == {lesson, elsewhere, personal}
    assert visible(other_admin) == set()
    assert set(ClassSession.objects.visible_to(AnonymousUser())) == set()
