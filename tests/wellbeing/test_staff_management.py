"""Staff management actions: invite, change role, deactivate, reactivate (all audited)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import login
from tests.factories import make_classroom, make_participant, make_staff
from tests.wellbeing.staff_helpers import invitation_link, staff_state
from wellbeing.actions import AuditContext
from wellbeing.models import (
    AuditEvent,
    CaseloadAssignment,
    Classroom,
    Participant,
    Role,
    StaffMember,
)
from wellbeing.refusals import NotYours
from wellbeing.staff_management import (
    Handover,
    StaffRefused,
    change_staff_role,
    deactivate_staff,
    invite_staff,
    reactivate_staff,
    send_invitation,
    staff_status,
)


def _ctx(admin: StaffMember) -> AuditContext:
    return AuditContext(admin.organization, admin.user, f"{admin.user.username} (admin)")


def _sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code in (200, 302)
    return client


def _signed_in(client: Client) -> bool:
    return client.get("/").wsgi_request.user.is_authenticated


def test_invitee_sets_a_password_through_the_emailed_link_then_signs_in(
    admin: StaffMember,
) -> None:
    # when the admin invites a counselor
    member, sent = invite_staff(_ctx(admin), " Robin Reyes ", "Robin@Example.org", Role.COUNSELOR)
    # then the member exists in the admin's school without a usable password
    assert sent and staff_status(member) == "invited"
    assert (member.organization, member.role) == (admin.organization, Role.COUNSELOR)
    assert (member.user.username, member.user.email) == ("robin@example.org", "robin@example.org")
    assert member.user.get_full_name() == "Robin Reyes"
    assert not _signed_in(_sign_in("robin@example.org", ""))
    # and the e-mail's link lets them choose a password (one redirect hides the token)
    client = Client()
    form_page = client.get(invitation_link("robin@example.org"), follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    password = "a-long-Unusual-passphrase-42"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    # and then they sign in with their e-mail address
    assert _signed_in(_sign_in("robin@example.org", password))
    member.refresh_from_db()
    assert staff_status(member) == "active" and member.user.last_login is not None
    # and every step is on the audit trail
    actions = list(
        AuditEvent.objects.filter(target_id=str(member.pk)).values_list("action", flat=True)
    )
    assert sorted(actions) == ["staff.invitation_sent", "staff.invite", "staff.password_set"]


def test_the_link_works_once(admin: StaffMember) -> None:
    # given an invitation whose link has been used
    member, _ = invite_staff(_ctx(admin), "Sam", "sam@example.org", Role.TEACHER)
    link = invitation_link("sam@example.org")
    client = Client()
    page = client.get(link, follow=True)
    form = {"new_password1": "Correct-horse-77x", "new_password2": "Correct-horse-77x"}
    assert client.post(page.redirect_chain[-1][0], form).status_code == 302
    # when the same link is opened again
    again = Client().get(link, follow=True)
    # then it is refused, and posting a new password through it changes nothing
    assert again.status_code == 200 and not again.context["validlink"]
    password_before = type(member.user).objects.get(pk=member.user.pk).password
    Client().post(link, {"new_password1": "Other-pass-99x", "new_password2": "Other-pass-99x"})
    assert type(member.user).objects.get(pk=member.user.pk).password == password_before


def test_the_link_expires_after_the_configured_time(admin: StaffMember, settings: Any) -> None:
    # given an invitation and a school that gives invitees one second
    settings.PASSWORD_RESET_TIMEOUT = 1
    invite_staff(_ctx(admin), "Lee", "lee@example.org", Role.TEACHER)
    link = invitation_link("lee@example.org")
    # when the invitee opens it two seconds later
    time.sleep(2.1)
    page = Client().get(link, follow=True)
    # then the link is refused
    assert page.status_code == 200 and not page.context["validlink"]


def test_a_duplicate_email_is_refused_whatever_its_case(admin: StaffMember) -> None:
    # given an account with this address (the admin's), in any school
    before = staff_state()
    # when it is invited again, then it is refused and nothing changes
    with pytest.raises(StaffRefused, match="already exists"):
        invite_staff(_ctx(admin), "Copy", admin.user.email.upper(), Role.TEACHER)
    assert staff_state() == before


def test_invitation_is_resent_only_to_invited_active_members(
    admin: StaffMember, teacher: StaffMember
) -> None:
    member, _ = invite_staff(_ctx(admin), "Kim", "kim@example.org", Role.TEACHER)
    # when it is sent again, then a second e-mail with a fresh link goes out
    assert send_invitation(_ctx(admin), member)
    assert len([m for m in mail.outbox if m.to == ["kim@example.org"]]) == 2
    # but a member with a password, or a deactivated one, gets none
    with pytest.raises(StaffRefused, match="already set a password"):
        send_invitation(_ctx(admin), teacher)
    deactivate_staff(_ctx(admin), member)
    with pytest.raises(StaffRefused, match="deactivated"):
        send_invitation(_ctx(admin), member)


def test_last_admin_who_can_sign_in_can_neither_step_down_nor_leave(admin: StaffMember) -> None:
    # given the school's only admin, and an invited admin who has not set a password yet
    invited, _ = invite_staff(_ctx(admin), "New Admin", "new-admin@example.org", Role.ADMIN)
    before = staff_state()
    # when the admin demotes or deactivates themselves, then both are refused, nothing changes
    with pytest.raises(StaffRefused, match="last admin"):
        change_staff_role(_ctx(admin), admin, Role.TEACHER)
    with pytest.raises(StaffRefused, match="last admin"):
        deactivate_staff(_ctx(admin), admin)
    assert staff_state() == before
    # and once a second admin can sign in, the first may step down
    invited.user.set_password("Second-admin-pass-1")
    invited.user.save()
    change_staff_role(_ctx(admin), admin, Role.TEACHER)
    assert StaffMember.objects.get(pk=admin.pk).role == Role.TEACHER


def test_deactivation_hands_the_caseload_to_the_successor(
    admin: StaffMember, counselor: StaffMember, student: Participant
) -> None:
    # given a counselor with two students, one of them already shared with the successor
    successor = make_staff(admin.organization, Role.COUNSELOR, "successor")
    shared = make_participant(admin.organization, "Shared Student", counselor=counselor)
    CaseloadAssignment.objects.create(counselor=successor, participant=shared)
    # when the counselor is deactivated with a successor
    deactivate_staff(_ctx(admin), counselor, Handover(successor=successor))
    # then both students are on the successor's caseload, none on the former counselor's
    assert set(Participant.objects.visible_to(successor.user)) == {student, shared}
    assert not CaseloadAssignment.objects.filter(counselor=counselor).exists()
    # and each handover is on the student's audit trail, plus the deactivation itself
    moved = AuditEvent.objects.filter(action="caseload.handover")
    assert sorted(moved.values_list("participant_pseudonym", flat=True)) == sorted(
        [student.pseudonym, shared.pseudonym]
    )
    event = AuditEvent.objects.get(action="staff.deactivate", target_id=str(counselor.pk))
    assert event.detail == {"role": "counselor", "caseload": 2, "successor": "successor"}


def test_a_counselor_with_a_caseload_needs_a_successor_or_an_explicit_choice(
    admin: StaffMember, counselor: StaffMember, student: Participant
) -> None:
    before = staff_state()
    # when the counselor is deactivated (or made a teacher) without a handover
    with pytest.raises(StaffRefused, match="choose a successor"):
        deactivate_staff(_ctx(admin), counselor)
    with pytest.raises(StaffRefused, match="choose a successor"):
        change_staff_role(_ctx(admin), counselor, Role.TEACHER)
    # or with themselves, a teacher or both choices as the successor
    teacher = make_staff(admin.organization, Role.TEACHER, "not-a-counselor")
    for handover in (
        Handover(successor=counselor),
        Handover(successor=teacher),
        Handover(successor=make_staff(admin.organization, Role.COUNSELOR), leave_unassigned=True),
    ):
        with pytest.raises(StaffRefused):
            deactivate_staff(_ctx(admin), counselor, handover)
    # then nothing changed (the two staff made above aside)
    assert staff_state()[2:] == before[2:]
    assert StaffMember.objects.active().filter(pk=counselor.pk).exists()


def test_a_caseload_can_be_left_unassigned_on_purpose(
    admin: StaffMember, counselor: StaffMember, student: Participant
) -> None:
    # when the counselor becomes a teacher and their caseload is left unassigned
    change_staff_role(_ctx(admin), counselor, Role.TEACHER, Handover(leave_unassigned=True))
    # then the student is on nobody's caseload (admins still see them) and that is audited
    assert not CaseloadAssignment.objects.filter(participant=student).exists()
    assert student in Participant.objects.visible_to(admin.user)
    assert AuditEvent.objects.filter(
        action="caseload.unassign", participant_pseudonym=student.pseudonym
    ).exists()
    event = AuditEvent.objects.get(action="staff.role_change")
    assert (event.detail["before"], event.detail["after"]) == ("counselor", "teacher")


def test_a_successor_of_another_school_is_not_found(
    admin: StaffMember, counselor: StaffMember, student: Participant, other_school: object
) -> None:
    theirs = make_staff(other_school, Role.COUNSELOR)  # type: ignore[arg-type]
    before = staff_state()
    with pytest.raises(NotYours):
        deactivate_staff(_ctx(admin), counselor, Handover(successor=theirs))
    assert staff_state() == before


def test_a_teacher_who_changes_role_leaves_their_classrooms(
    admin: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    change_staff_role(_ctx(admin), teacher, Role.COUNSELOR)
    assert not classroom.teachers.exists()
    event = AuditEvent.objects.get(action="staff.role_change", target_id=str(teacher.pk))
    assert event.detail["classrooms"] == [classroom.name]


def test_a_deactivated_member_is_signed_out_and_cannot_sign_in_until_reactivated(
    admin: StaffMember, teacher: StaffMember
) -> None:
    # given the teacher is signed in
    session = login(teacher)
    assert _signed_in(session)
    # when the admin deactivates them
    deactivate_staff(_ctx(admin), teacher)
    # then their open session ends and a new sign-in fails
    assert not _signed_in(session)
    assert not _signed_in(_sign_in(teacher.user.username, "pw-correct-horse"))
    with pytest.raises(StaffRefused, match="already deactivated"):
        deactivate_staff(_ctx(admin), teacher)
    # and after reactivation they sign in again, with the same role
    reactivate_staff(_ctx(admin), teacher)
    assert _signed_in(_sign_in(teacher.user.username, "pw-correct-horse"))
    actions = AuditEvent.objects.filter(target_id=str(teacher.pk)).values_list("action", flat=True)
    assert sorted(actions) == ["staff.deactivate", "staff.reactivate"]


def test_another_schools_member_cannot_be_touched(
    admin: StaffMember, other_admin: StaffMember
) -> None:
    theirs = make_staff(other_admin.organization, Role.TEACHER)
    make_classroom(other_admin.organization, "Theirs", teacher=theirs)
    before = staff_state()
    for act in (
        lambda: change_staff_role(_ctx(admin), theirs, Role.ADMIN),
        lambda: deactivate_staff(_ctx(admin), theirs),
        lambda: reactivate_staff(_ctx(admin), theirs),
        lambda: send_invitation(_ctx(admin), theirs),
    ):
        with pytest.raises(NotYours):
            act()
    assert staff_state() == before


def test_a_deactivated_counselor_cannot_be_given_a_caseload(
    admin: StaffMember, counselor: StaffMember, student: Participant
) -> None:
    from wellbeing.actions import CaseloadRefused, assign_caseload

    deactivate_staff(_ctx(admin), counselor, Handover(leave_unassigned=True))
    with pytest.raises(CaseloadRefused, match="deactivated"):
        assign_caseload(_ctx(admin), StaffMember.objects.get(pk=counselor.pk), student)


def test_an_unreachable_mail_server_keeps_the_member_and_the_invitation_can_be_resent(
    admin: StaffMember, settings: Any
) -> None:
    # given a mail server that refuses connections (a closed local port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    # when a member is invited
    member, sent = invite_staff(_ctx(admin), "Noor", "noor@example.org", Role.TEACHER)
    # then the member exists, the failure is reported and audited
    assert not sent and staff_status(member) == "invited"
    assert AuditEvent.objects.filter(action="staff.invitation_failed").count() == 1
    # and once mail works again, the resent invitation carries a working link
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_invitation(_ctx(admin), member)
    assert Client().get(invitation_link("noor@example.org"), follow=True).context["validlink"]
