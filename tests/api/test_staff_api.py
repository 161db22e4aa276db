"""/api/staff/: school admins manage their own school's staff, and nobody else's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import client_for, patch_json, post_json
from tests.factories import make_staff
from tests.wellbeing.staff_helpers import invitation_link, staff_state
from wellbeing.models import AuditEvent, CaseloadAssignment, Participant, Role, StaffMember

PERSONAS = ("admin", "counselor", "teacher", "anonymous", "other_admin")

# (method, path, payload, expected status per persona in PERSONAS order); {teacher} is ours.
MATRIX: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("GET", "/api/staff/", None, (200, 403, 403, 403, 200)),
    (
        "POST",
        "/api/staff/",
        {"name": "New Person", "email": "new@example.org", "role": "teacher"},
        (201, 403, 403, 403, 201),
    ),
    ("GET", "/api/staff/{teacher}/", None, (200, 403, 403, 403, 404)),
    ("PATCH", "/api/staff/{teacher}/", {"role": "counselor"}, (200, 403, 403, 403, 404)),
    ("POST", "/api/staff/{teacher}/deactivate/", {}, (200, 403, 403, 403, 404)),
    ("POST", "/api/staff/{invited}/invite/", None, (200, 403, 403, 403, 404)),
    ("POST", "/api/staff/{retired}/reactivate/", None, (200, 403, 403, 403, 404)),
]
CASES = [
    pytest.param(method, path, payload, persona, expected[i], id=f"{persona}-{method}-{path}")
    for method, path, payload, expected in MATRIX
    for i, persona in enumerate(PERSONAS)
]


@pytest.mark.parametrize(("method", "path", "payload", "persona", "expected"), CASES)
def test_staff_access_matrix(
    method: str,
    path: str,
    payload: Any,
    persona: str,
    expected: int,
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    other_admin: StaffMember,
) -> None:
    # given our school with a teacher, an invited member and a deactivated one
    invited = post_json(
        client_for(admin), "/api/staff/", {"name": "I", "email": "i@x.org", "role": "teacher"}
    ).json()["id"]
    retired = make_staff(admin.organization, Role.TEACHER, "retired")
    post_json(client_for(admin), f"/api/staff/{retired.pk}/deactivate/")
    people = {"admin": admin, "counselor": counselor, "teacher": teacher, "anonymous": None}
    client = client_for({**people, "other_admin": other_admin}[persona])
    url = path.format(teacher=teacher.pk, invited=invited, retired=retired.pk)
    before = staff_state()
    # when the persona calls the endpoint
    body = "" if payload is None else json.dumps(payload)
    response = client.generic(method, url, data=body, content_type="application/json")
    # then the status is the one the matrix allows, and a refusal changed nothing
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) >= {"error", "detail"}
        assert staff_state() == before


def test_list_shows_only_our_staff_with_role_status_and_last_sign_in(
    admin: StaffMember, counselor: StaffMember, student: Participant, other_admin: StaffMember
) -> None:
    rows = client_for(admin).get("/api/staff/").json()["results"]
    assert {row["username"] for row in rows} == {"admin", "counselor", "teacher"}
    mine = next(row for row in rows if row["username"] == "counselor")
    assert mine["role"] == "counselor" and mine["status"] == "active"
    assert mine["caseload_count"] == 1 and mine["last_login"] is None
    assert mine["email"] == "counselor@example.org"


def test_invite_by_api_sends_a_working_link(admin: StaffMember) -> None:
    # when the admin invites a counselor through the API
    response = post_json(
        client_for(admin),
        "/api/staff/",
        {"name": "Ada Byron", "email": "ADA@example.org", "role": "counselor"},
    )
    # then the answer describes an invited member and says the e-mail went out
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["status"], body["invitation_sent"]) == (
        "ada@example.org",
        "invited",
        True,
    )
    # and the link sets a password the invitee then signs in with
    client = Client()
    page = client.get(invitation_link("ada@example.org"), follow=True)
    form = {"new_password1": "Analytical-engine-1843", "new_password2": "Analytical-engine-1843"}
    assert client.post(page.redirect_chain[-1][0], form).status_code == 302
    signed = client.post(
        "/accounts/login/",
        {"username": "ada@example.org", "password": "Analytical-engine-1843"},
    )
    assert signed.status_code == 302
    assert client.get("/api/staff/").status_code == 403  # a counselor, not an admin


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Dup", "email": "counselor@example.org", "role": "teacher"}, "email"),
        ({"name": "Dup", "email": "Other_Admin@Example.org", "role": "teacher"}, "email"),
        ({"name": "X", "email": "not-an-address", "role": "teacher"}, "email"),
        ({"name": "X", "email": "x@example.org", "role": "principal"}, "role"),
        ({"name": "   ", "email": "x@example.org", "role": "teacher"}, "name"),
        ({"email": "x@example.org", "role": "teacher"}, "name"),
    ],
)
def test_bad_invitations_are_400_and_change_nothing(
    payload: dict[str, str],
    field: str,
    admin: StaffMember,
    counselor: StaffMember,
    other_admin: StaffMember,
) -> None:
    before = staff_state()
    response = post_json(client_for(admin), "/api/staff/", payload)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    if "Dup" in payload.values():
        assert "already exists" in response.json()["fields"]["email"][0]
    assert staff_state() == before


def test_deactivation_hands_the_caseload_over_or_is_refused(
    admin: StaffMember, counselor: StaffMember, student: Participant, other_admin: StaffMember
) -> None:
    client = client_for(admin)
    successor = make_staff(admin.organization, Role.COUNSELOR, "successor")
    theirs = make_staff(other_admin.organization, Role.COUNSELOR, "their_counselor")
    url = f"/api/staff/{counselor.pk}/deactivate/"
    # when the counselor is deactivated without a handover, with another school's counselor,
    # with a teacher or with both choices, then each is a 400 and nothing changes
    refusals = [
        ({}, "refused"),
        ({"successor": theirs.pk}, "invalid"),
        ({"successor": make_staff(admin.organization, Role.TEACHER).pk}, "invalid"),
        ({"successor": successor.pk, "leave_unassigned": True}, "invalid"),
    ]
    before = staff_state()
    for payload, error in refusals:
        response = post_json(client, url, payload)
        assert (response.status_code, response.json()["error"]) == (400, error), payload
    assert staff_state() == before
    assert "successor" in post_json(client, url, {}).json()["detail"]
    # when a successor is named, then the caseload moves and the counselor is deactivated
    response = post_json(client, url, {"successor": successor.pk})
    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    assert CaseloadAssignment.objects.get(participant=student).counselor == successor
    assert AuditEvent.objects.filter(
        action="caseload.handover", participant_pseudonym=student.pseudonym
    ).exists()


def test_the_last_admin_keeps_the_role_through_the_api(admin: StaffMember) -> None:
    client = client_for(admin)
    before = staff_state()
    for response in (
        patch_json(client, f"/api/staff/{admin.pk}/", {"role": "counselor"}),
        post_json(client, f"/api/staff/{admin.pk}/deactivate/"),
    ):
        assert response.status_code == 400
        assert response.json()["error"] == "refused" and "last admin" in response.json()["detail"]
    assert staff_state() == before


def test_role_change_and_reactivation_are_audited(admin: StaffMember, teacher: StaffMember) -> None:
    client = client_for(admin)
    assert patch_json(client, f"/api/staff/{teacher.pk}/", {"role": "admin"}).json()["role"] == (
        "admin"
    )
    assert post_json(client, f"/api/staff/{teacher.pk}/deactivate/").status_code == 200
    # a repeated reactivation is refused, the first one succeeds
    assert post_json(client, f"/api/staff/{teacher.pk}/reactivate/").json()["status"] == "active"
    assert post_json(client, f"/api/staff/{teacher.pk}/reactivate/").status_code == 400
    assert patch_json(client, f"/api/staff/{teacher.pk}/", {}).status_code == 400
    actions = AuditEvent.objects.filter(target_id=str(teacher.pk)).order_by("created_at", "pk")
    assert list(actions.values_list("action", flat=True)) == [
        "staff.role_change",
        "staff.deactivate",
        "staff.reactivate",
    ]
    event = actions.first()
    assert event is not None and event.actor == admin.user
    assert event.detail == {"before": "teacher", "after": "admin", "classrooms": []}


@pytest.mark.parametrize("bad_id", ["999999", "abc"])
def test_unknown_ids_are_404(bad_id: str, admin: StaffMember) -> None:
    client = client_for(admin)
    before = staff_state()
    assert client.get(f"/api/staff/{bad_id}/").status_code == 404
    assert post_json(client, f"/api/staff/{bad_id}/deactivate/").status_code == 404
    assert staff_state() == before
