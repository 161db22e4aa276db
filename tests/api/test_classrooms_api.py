"""School admins add classrooms and staff them with their own school's teachers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import client_for, patch_json, post_json
from tests.factories import make_staff
from wellbeing.models import AuditEvent, Classroom, Role, StaffMember


def _rooms() -> list[tuple[Any, ...]]:
    return sorted(
        (
            c.pk,
            c.organization_id,
            c.name,
            c.grade,
            c.detector,
            tuple(sorted(t.pk for t in c.teachers.all())),
        )
        for c in Classroom.objects.prefetch_related("teachers")
    )


def test_admin_adds_a_classroom_its_teacher_then_sees(
    admin: StaffMember, teacher: StaffMember
) -> None:
    # when the admin adds a classroom taught by the teacher
    response = post_json(
        client_for(admin),
        "/api/classrooms/",
        {"name": " 10A ", "grade": "10", "teachers": [teacher.pk]},
    )
    # then it exists in the admin's school, the teacher sees it, and it is audited
    assert response.status_code == 201, response.content
    room = Classroom.objects.get(pk=response.json()["id"])
    assert (room.organization, room.name, list(room.teachers.all())) == (
        admin.organization,
        "10A",
        [teacher],
    )
    seen = client_for(teacher).get("/api/classrooms/").json()["results"]
    assert room.pk in [row["id"] for row in seen]
    assert AuditEvent.objects.filter(action="classroom.create", target_id=str(room.pk)).exists()


def test_admin_renames_and_restaffs_a_classroom(
    admin: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    second = make_staff(admin.organization, Role.TEACHER, "teacher2")
    response = patch_json(
        client_for(admin),
        f"/api/classrooms/{classroom.pk}/",
        {"name": "7B (science)", "teachers": [second.pk]},
    )
    assert response.status_code == 200, response.content
    classroom.refresh_from_db()
    assert classroom.name == "7B (science)" and list(classroom.teachers.all()) == [second]
    # the old teacher no longer sees it
    assert not Classroom.objects.visible_to(teacher.user).filter(pk=classroom.pk).exists()
    event = AuditEvent.objects.get(action="classroom.update")
    assert event.detail["fields"] == ["name", "teachers"]


@pytest.mark.parametrize("persona", ["counselor", "teacher", "anonymous"])
def test_only_admins_change_classrooms(
    persona: str, counselor: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    client = client_for({"counselor": counselor, "teacher": teacher, "anonymous": None}[persona])
    before = _rooms()
    assert post_json(client, "/api/classrooms/", {"name": "X"}).status_code == 403
    response = patch_json(client, f"/api/classrooms/{classroom.pk}/", {"name": "X"})
    assert response.status_code == 403
    assert _rooms() == before


def test_another_schools_admin_cannot_reach_or_staff_our_classroom(
    other_admin: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    client = client_for(other_admin)
    before = _rooms()
    # our classroom "does not exist" for them, and our teacher cannot be put in theirs
    response = patch_json(client, f"/api/classrooms/{classroom.pk}/", {"name": "Ours now"})
    assert response.status_code == 404
    response = post_json(client, "/api/classrooms/", {"name": "Theirs", "teachers": [teacher.pk]})
    assert response.status_code == 400 and "teachers" in response.json()["fields"]
    assert _rooms() == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "x" * 121},
        {"name": "7B"},  # taken in this school
        {"name": "New", "teachers": ["abc"]},
        {"name": "New", "teachers": [999_999]},
        {"name": "New", "teachers": ["COUNSELOR"]},  # a counselor is not a teacher
        {"name": "New", "detector": "cnn"},  # a real backend, but too slow for live frames
        {"name": "New", "detector": ""},
    ],
)
def test_malformed_classrooms_are_refused_and_change_nothing(
    admin: StaffMember, counselor: StaffMember, classroom: Classroom, payload: dict[str, Any]
) -> None:
    teachers = [counselor.pk if t == "COUNSELOR" else t for t in payload.get("teachers", [])]
    body = {**payload, "teachers": teachers} if "teachers" in payload else payload
    before, events = _rooms(), AuditEvent.objects.count()
    response = post_json(client_for(admin), "/api/classrooms/", body)
    assert response.status_code == 400 and response.json()["error"] == "invalid", response.content
    assert _rooms() == before and AuditEvent.objects.count() == events


def test_empty_patch_and_duplicate_rename_are_refused(
    admin: StaffMember, classroom: Classroom
) -> None:
    Classroom.objects.create(organization=admin.organization, name="8C")
    client = client_for(admin)
    before = _rooms()
    assert patch_json(client, f"/api/classrooms/{classroom.pk}/", {}).status_code == 400
    assert patch_json(client, f"/api/classrooms/{classroom.pk}/", {"name": "8C"}).status_code == 400
    # keeping its own name is not a clash
    assert patch_json(client, f"/api/classrooms/{classroom.pk}/", {"name": "7B"}).status_code == 200
    assert _rooms() == before


def test_a_new_classroom_uses_the_cnn_detector_unless_told(admin: StaffMember) -> None:
    client = client_for(admin)
    # when the admin adds one classroom without a detector and one on legacy HOG
    plain = post_json(client, "/api/classrooms/", {"name": "10A"})
    legacy = post_json(client, "/api/classrooms/", {"name": "Hall", "detector": "hog"})
    # then each has the detector asked for (rfb by default), shown and audited
    assert (plain.status_code, legacy.status_code) == (201, 201), legacy.content
    assert (plain.json()["detector"], legacy.json()["detector"]) == ("rfb", "hog")
    created = AuditEvent.objects.get(action="classroom.create", target_id=str(legacy.json()["id"]))
    assert created.detail["detector"] == "hog"


def test_admin_switches_a_classroom_to_the_legacy_detector(
    admin: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    # given 7B on the default detector
    assert classroom.detector == "rfb"
    # when the admin chooses legacy HOG for it
    path = f"/api/classrooms/{classroom.pk}/"
    response = patch_json(client_for(admin), path, {"detector": "hog"})
    # then it is stored and shown, staff reading classrooms see it, and the change is audited
    # with the old and new value (it changes the workers' CPU cost)
    assert response.status_code == 200, response.content
    assert response.json()["detector"] == "hog"
    classroom.refresh_from_db()
    assert classroom.detector == "hog" and list(classroom.teachers.all()) == [teacher]
    seen = client_for(teacher).get(f"/api/classrooms/{classroom.pk}/").json()
    assert seen["detector"] == "hog"
    event = AuditEvent.objects.get(action="classroom.update")
    assert event.detail == {"fields": ["detector"], "detector": {"before": "rfb", "after": "hog"}}
    assert event.actor == admin.user


@pytest.mark.parametrize("value", ["cnn", "hog2x", "RFB", "", None, 2, ["hog"]])
def test_unknown_detectors_are_refused_and_change_nothing(
    admin: StaffMember, classroom: Classroom, value: Any
) -> None:
    # given the classroom as it is and the audit trail's length
    before, events = _rooms(), AuditEvent.objects.count()
    # when the admin sends a detector that is not one of the choices
    response = patch_json(
        client_for(admin), f"/api/classrooms/{classroom.pk}/", {"detector": value}
    )
    # then the field is named in a 400 and nothing changed, nothing was audited
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid" and "detector" in response.json()["fields"]
    assert _rooms() == before and AuditEvent.objects.count() == events


def test_another_schools_admin_cannot_change_our_detector(
    other_admin: StaffMember, teacher: StaffMember, classroom: Classroom
) -> None:
    # given our classroom / when another school's admin (or our teacher) tries to set it
    before, events = _rooms(), AuditEvent.objects.count()
    path = f"/api/classrooms/{classroom.pk}/"
    foreign = patch_json(client_for(other_admin), path, {"detector": "hog"})
    ours = patch_json(client_for(teacher), path, {"detector": "hog"})
    # then it "does not exist" for them, teachers may not, and nothing changed
    assert (foreign.status_code, ours.status_code) == (404, 403)
    assert _rooms() == before and AuditEvent.objects.count() == events
