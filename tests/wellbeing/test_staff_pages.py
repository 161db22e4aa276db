"""The staff-management pages: who may open them, and each change made through them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import login
from tests.factories import make_staff
from tests.wellbeing.staff_helpers import invitation_link, staff_state
from wellbeing.models import AuditEvent, CaseloadAssignment, Participant, Role, StaffMember

PAGES = ("/staff/", "/staff/new/", "/staff/{pk}/")
ACTIONS = ("role", "deactivate", "reactivate", "invite")


def _client(persona: str, people: dict[str, StaffMember]) -> Client:
    return Client() if persona == "anonymous" else login(people[persona])


@pytest.fixture
def people(
    admin: StaffMember, counselor: StaffMember, teacher: StaffMember, other_admin: StaffMember
) -> dict[str, StaffMember]:
    return {"admin": admin, "counselor": counselor, "teacher": teacher, "other_admin": other_admin}


@pytest.mark.parametrize("persona", ["counselor", "teacher", "anonymous", "other_admin"])
def test_only_the_schools_admins_reach_its_staff(
    persona: str, people: dict[str, StaffMember], student: Participant
) -> None:
    # given one of our teachers, and everyone but our admin
    target = people["teacher"]
    client = _client(persona, people)
    before = staff_state()
    for template in PAGES:
        url = template.format(pk=target.pk)
        response = client.get(url)
        # then counselors and teachers are refused, anonymous callers sent to sign in, and the
        # other school's admin gets their own lists but our member "does not exist"
        expected = {"counselor": 403, "teacher": 403, "anonymous": 302}.get(persona)
        if persona == "other_admin":
            expected = 404 if "{pk}" in template else 200
        assert response.status_code == expected, f"{persona} GET {url}"
        if persona == "other_admin" and expected == 200:
            assert target.user.email not in response.content.decode()
    refusal = {"counselor": 403, "teacher": 403, "anonymous": 302, "other_admin": 404}[persona]
    for name in ACTIONS:
        response = client.post(f"/staff/{target.pk}/{name}/", {"role": "admin"})
        assert response.status_code == refusal, f"{persona} POST {name}"
    # and nothing changed
    assert staff_state() == before


def test_admin_lists_staff_with_role_status_and_last_sign_in(
    admin: StaffMember, counselor: StaffMember, other_admin: StaffMember
) -> None:
    # given 30 more teachers, one of them deactivated
    teachers = [make_staff(admin.organization, Role.TEACHER, f"t{i:02}") for i in range(30)]
    teachers[0].user.is_active = False
    teachers[0].user.save()
    client = login(admin)
    # when the admin opens the staff list, first page then second
    first = client.get("/staff/")
    second = client.get("/staff/", {"page": 2})
    # then 32 members of our school are shown over two pages of 25, none of the other school
    assert first.status_code == second.status_code == 200
    shown = list(first.context["page"]) + list(second.context["page"])
    assert len(first.context["page"]) == 25 and len(shown) == 32
    assert {m.organization_id for m in shown} == {admin.organization.pk}
    assert other_admin.user.email not in first.content.decode() + second.content.decode()
    # and each row says role, status and last sign-in
    page = first.content.decode()
    assert "Counselor" in page and "School admin" in page and "never" in page
    assert "deactivated" in second.content.decode()
    assert 'href="/staff/"' in page  # linked from the admin navigation


def test_admin_invites_through_the_form_and_the_invitee_gets_a_link(admin: StaffMember) -> None:
    client = login(admin)
    # when the admin adds a teacher through the form
    response = client.post(
        "/staff/new/", {"name": "Lee Park", "email": "lee@example.org", "role": "teacher"}
    )
    # then the member exists, the admin lands on their page, and an e-mail with the link went out
    member = StaffMember.objects.get(user__email="lee@example.org")
    assert response.status_code == 302 and response["Location"] == f"/staff/{member.pk}/"
    assert invitation_link("lee@example.org").startswith("/accounts/set-password/")
    assert "invited" in client.get(f"/staff/{member.pk}/").content.decode()


def test_a_duplicate_email_in_the_form_is_explained_and_changes_nothing(
    admin: StaffMember, other_admin: StaffMember
) -> None:
    before = staff_state()
    response = login(admin).post(
        "/staff/new/", {"name": "X", "email": other_admin.user.email.upper(), "role": "teacher"}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert staff_state() == before


def test_deactivating_a_counselor_through_the_page_asks_for_a_successor(
    admin: StaffMember, counselor: StaffMember, student: Participant
) -> None:
    successor = make_staff(admin.organization, Role.COUNSELOR, "successor")
    client = login(admin)
    # given the counselor's page offers the school's other active counselors as successors
    page = client.get(f"/staff/{counselor.pk}/").content.decode()
    assert "Successor counselor" in page and successor.user.email in page
    # when the admin deactivates without choosing, then it is refused with the reason
    before = staff_state()
    refused = client.post(f"/staff/{counselor.pk}/deactivate/", {})
    assert refused.status_code == 400 and "choose a successor" in refused.content.decode()
    assert staff_state() == before
    # and with a successor, the caseload moves and the counselor is deactivated
    done = client.post(f"/staff/{counselor.pk}/deactivate/", {"successor": successor.pk})
    assert done.status_code == 302
    assert CaseloadAssignment.objects.get(participant=student).counselor == successor
    assert not StaffMember.objects.get(pk=counselor.pk).user.is_active


def test_the_last_admin_cannot_step_down_through_the_page(admin: StaffMember) -> None:
    before = staff_state()
    response = login(admin).post(f"/staff/{admin.pk}/role/", {"role": "teacher"})
    assert response.status_code == 400 and "last admin" in response.content.decode()
    assert staff_state() == before


def test_role_change_reactivation_and_resend_through_the_pages(
    admin: StaffMember, teacher: StaffMember
) -> None:
    client = login(admin)
    # when the admin makes the teacher a counselor, deactivates and reactivates them
    assert client.post(f"/staff/{teacher.pk}/role/", {"role": "counselor"}).status_code == 302
    assert client.post(f"/staff/{teacher.pk}/deactivate/").status_code == 302
    assert client.post(f"/staff/{teacher.pk}/reactivate/").status_code == 302
    # then the teacher is an active counselor, each step audited
    member = StaffMember.objects.get(pk=teacher.pk)
    assert (member.role, member.user.is_active) == (Role.COUNSELOR, True)
    steps = AuditEvent.objects.filter(target_id=str(teacher.pk)).order_by("created_at", "pk")
    assert list(steps.values_list("action", flat=True)) == [
        "staff.role_change",
        "staff.deactivate",
        "staff.reactivate",
    ]
    # and resending an invitation to someone with a password is refused with a message
    response = client.post(f"/staff/{teacher.pk}/invite/", follow=True)
    assert "already set a password" in response.content.decode() and mail.outbox == []


def test_an_unknown_member_is_not_found(admin: StaffMember, db: Any) -> None:
    client = login(admin)
    assert client.get("/staff/999999/").status_code == 404
    assert client.post("/staff/999999/deactivate/").status_code == 404
