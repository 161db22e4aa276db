"""Participant endpoints: who sees which rows and names, consent status, search, audit events."""

from __future__ import annotations

from typing import Any

import numpy as np

from consent.models import FaceTemplate, Scope
from consent.serializers import may_see_full_name
from consent.template_crypto import encrypt_embedding
from tests.api.conftest import World, client_for, patch_json, post_json
from tests.factories import grant_consent, make_participant, make_staff
from wellbeing.models import AuditEvent, Guardian, Participant, Role, StaffMember


def _pseudonyms(response: Any) -> set[str]:
    return {row["pseudonym"] for row in response.json()["results"]}


def test_each_role_lists_only_the_participants_it_may_see(world: World) -> None:
    # given a school with a caseload student and an unassigned one, and another school
    student, unassigned, other = (
        Participant.objects.get(pk=world.ids[name])
        for name in ("student", "unassigned", "other_student")
    )
    # when each role lists participants
    seen = {
        persona: _pseudonyms(client_for(world.personas[persona]).get("/api/participants/"))
        for persona in ("admin", "counselor", "other_admin")
    }
    # then admins see their whole school, counselors their caseload, nobody the other school
    assert seen["admin"] == {student.pseudonym, unassigned.pseudonym}
    assert seen["counselor"] == {student.pseudonym}
    assert seen["other_admin"] == {other.pseudonym}


def test_full_name_only_for_admins_and_caseload_counselors(
    world: World, student: Participant, counselor: StaffMember, other_admin: StaffMember
) -> None:
    # given a second counselor without the student on caseload, and a teacher
    outsider = make_staff(student.organization, Role.COUNSELOR, "outsider")
    teacher = world.personas["teacher"]
    assert teacher is not None
    # then the rule allows the name only to the school's admin and the caseload counselor
    assert may_see_full_name(world.personas["admin"], student)  # type: ignore[arg-type]
    assert may_see_full_name(counselor, student)
    assert not may_see_full_name(outsider, student)
    assert not may_see_full_name(teacher, student)
    assert not may_see_full_name(other_admin, student)
    # and through the API the caseload counselor gets the name next to the pseudonym
    row = client_for(counselor).get(f"/api/participants/{student.pk}/").json()
    assert row["full_name"] == "Alex Student"
    assert row["pseudonym"] == student.pseudonym
    # while the outsider counselor cannot even reach the record
    assert client_for(outsider).get(f"/api/participants/{student.pk}/").status_code == 404


def test_retrieve_shows_consent_status_and_template_count_never_templates(
    world: World, student: Participant, guardian: Guardian
) -> None:
    # given consent for both scopes, then a student refusal of emotion analysis, and a template
    grant_consent(student, guardian)
    grant_consent(student, scopes=(Scope.EMOTION_ANALYSIS,), decision="refuse", given_by="student")
    FaceTemplate.objects.create(
        participant=student, ciphertext=encrypt_embedding(_vector()), embedder="test"
    )
    # when the admin retrieves the participant
    row = client_for(world.personas["admin"]).get(f"/api/participants/{student.pk}/").json()
    # then consent status follows the precedence rules and only a count of templates is shown
    assert row["consent"]["active_scopes"] == ["face_template"]
    assert "student" in row["consent"]["reasons"]["emotion_analysis"]
    assert row["face_template_count"] == 1
    assert not {"ciphertext", "templates", "face_templates"} & set(row)


def _vector() -> Any:
    return np.linspace(-1, 1, 128, dtype=np.float32)


def test_search_matches_pseudonym_and_name_within_visible_rows(world: World) -> None:
    # given the admin and the students of both schools
    client = client_for(world.personas["admin"])
    unassigned = Participant.objects.get(pk=world.ids["unassigned"])
    # when searching by name, by pseudonym, by another school's name and by nonsense
    by_name = _pseudonyms(client.get("/api/participants/", {"search": "unassigned"}))
    by_pseudonym = _pseudonyms(client.get("/api/participants/", {"search": unassigned.pseudonym}))
    other_school = _pseudonyms(client.get("/api/participants/", {"search": "Other Student"}))
    nothing = _pseudonyms(client.get("/api/participants/", {"search": "zzz-no-match"}))
    # then only visible matching rows come back
    assert by_name == by_pseudonym == {unassigned.pseudonym}
    assert other_school == nothing == set()


def test_list_is_paginated(world: World) -> None:
    # given 55 more participants (page size 50)
    school = world.personas["admin"].organization  # type: ignore[union-attr]
    for n in range(55):
        make_participant(school, f"Extra {n}")
    # when the admin lists
    page = client_for(world.personas["admin"]).get("/api/participants/").json()
    # then the first page holds 50 of the 57 rows and links to the next
    assert page["count"] == 57
    assert len(page["results"]) == 50
    assert page["next"]


def test_views_and_changes_write_audit_events(world: World, student: Participant) -> None:
    admin = world.personas["admin"]
    client = client_for(admin)
    # when the admin lists, retrieves, creates and updates participants
    client.get("/api/participants/", HTTP_USER_AGENT="pytest-agent")
    client.get(f"/api/participants/{student.pk}/", HTTP_USER_AGENT="pytest-agent")
    created = post_json(client, "/api/participants/", {"full_name": "Robin New"}).json()
    patch_json(client, f"/api/participants/{student.pk}/", {"grade": "8"})
    # then each left an audit event saying who, what, whom and from where
    view = AuditEvent.objects.get(action="participant.view")
    assert view.actor == admin.user  # type: ignore[union-attr]
    assert view.participant_pseudonym == student.pseudonym
    assert view.ip_address == "127.0.0.1" and view.user_agent == "pytest-agent"
    listing = AuditEvent.objects.get(action="participant.list")
    assert student.pseudonym in listing.detail["pseudonyms"]
    assert AuditEvent.objects.filter(
        action="participant.create", participant_pseudonym=created["pseudonym"]
    ).exists()
    update = AuditEvent.objects.get(action="participant.update")
    assert update.detail["fields"] == ["grade"]


def test_admin_creates_and_updates_participant_with_classrooms(world: World) -> None:
    client = client_for(world.personas["admin"])
    # when a participant is created in a classroom and then moved to another one
    created = post_json(
        client,
        "/api/participants/",
        {"full_name": "  Robin New ", "grade": "7", "classrooms": [world.ids["classroom"]]},
    )
    row = created.json()
    moved = patch_json(
        client, f"/api/participants/{row['id']}/", {"classrooms": [world.ids["spare_room"]]}
    )
    # then the name was trimmed, the classroom set replaced, and the response is the new state
    assert created.status_code == 201 and row["full_name"] == "Robin New"
    assert row["classrooms"] == [world.ids["classroom"]]
    assert moved.json()["classrooms"] == [world.ids["spare_room"]]
    participant = Participant.objects.get(pk=row["id"])
    assert list(participant.classrooms.values_list("pk", flat=True)) == [world.ids["spare_room"]]
