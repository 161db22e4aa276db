"""Malformed payloads, unknown ids and another school's ids: clear 4xx, nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import World, client_for, database_snapshot
from tests.factories import make_classroom, make_guardian, make_participant, make_staff
from wellbeing.models import Participant, Role

GOOD_CONSENT = {
    "scopes": ["emotion_analysis"],
    "decision": "grant",
    "given_by": "student",
    "evidence_reference": "form-1",
    "evidence_date": "2026-09-02",
}

# (method, path, payload, expected status, expected error code)
BAD_PAYLOADS: list[tuple[str, str, Any, int, str]] = [
    ("POST", "/api/participants/", {}, 400, "invalid"),
    ("POST", "/api/participants/", {"full_name": "   "}, 400, "invalid"),
    ("POST", "/api/participants/", {"full_name": "x" * 201}, 400, "invalid"),
    ("POST", "/api/participants/", {"full_name": "A", "classrooms": ["abc"]}, 400, "invalid"),
    ("POST", "/api/participants/", {"full_name": "A", "classrooms": [999999]}, 400, "invalid"),
    (
        "POST",
        "/api/participants/",
        {"full_name": "A", "classrooms": "{other_room}"},
        400,
        "invalid",
    ),
    ("POST", "/api/participants/", "{not json", 400, "parse_error"),
    ("POST", "/api/participants/", ["a", "list"], 400, "invalid"),
    ("PATCH", "/api/participants/{student}/", {}, 400, "invalid"),
    ("PATCH", "/api/participants/{student}/", {"full_name": ""}, 400, "invalid"),
    ("PATCH", "/api/participants/{student}/", {"classrooms": ["{other_room}"]}, 400, "invalid"),
    ("POST", "/api/participants/{student}/guardians/", {"name": "X"}, 400, "invalid"),
    (
        "POST",
        "/api/participants/{student}/guardians/",
        {"name": "X", "relation": "aunt", "email": "not-an-email"},
        400,
        "invalid",
    ),
    ("POST", "/api/participants/{student}/consents/", {}, 400, "invalid"),
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "scopes": ["mind_reading"]},
        400,
        "invalid",
    ),
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "scopes": []},
        400,
        "invalid",
    ),
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "evidence_date": "yesterday"},
        400,
        "invalid",
    ),
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "evidence_reference": " "},
        400,
        "invalid",
    ),
    # A guardian decision without naming the guardian: refused by the action itself.
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "given_by": "guardian"},
        400,
        "consent_refused",
    ),
    # Another participant's guardian is "not found", like an unknown id.
    (
        "POST",
        "/api/participants/{student}/consents/",
        {**GOOD_CONSENT, "given_by": "guardian", "guardian": "{foreign_guardian}"},
        400,
        "invalid",
    ),
    ("POST", "/api/participants/{student}/caseload/", {}, 400, "invalid"),
    ("POST", "/api/participants/{student}/caseload/", {"counselor": "{teacher}"}, 400, "invalid"),
    (
        "POST",
        "/api/participants/{student}/caseload/",
        {"counselor": "{other_counselor}"},
        400,
        "invalid",
    ),
    ("POST", "/api/notices/", {"title": "only a title"}, 400, "invalid"),
    ("POST", "/api/devices/", {"name": "Cam"}, 400, "invalid"),
    (
        "POST",
        "/api/devices/",
        {"name": "Cam", "classroom": "{classroom}", "participant": "{student}"},
        400,
        "invalid",
    ),
    ("POST", "/api/devices/", {"name": "Cam", "participant": "{other_student}"}, 400, "invalid"),
    ("POST", "/api/devices/", {"name": "", "classroom": "{classroom}"}, 400, "invalid"),
]


@pytest.fixture
def bad_ids(world: World) -> dict[str, Any]:
    """The world's ids plus rows of the other school and a foreign guardian."""
    other_school = Participant.objects.get(pk=world.ids["other_student"]).organization
    foreign = make_participant(world.personas["admin"].organization, "Foreign")  # type: ignore[union-attr]
    ids: dict[str, Any] = dict(world.ids)
    ids["other_room"] = make_classroom(other_school, "Other 7B").pk
    ids["other_counselor"] = make_staff(other_school, Role.COUNSELOR, "other_counselor").pk
    ids["teacher"] = world.personas["teacher"].pk  # type: ignore[union-attr]
    ids["foreign_guardian"] = make_guardian(foreign).pk
    return ids


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if (
        isinstance(value, str)
        and value.startswith("{")
        and value.endswith("}")
        and value[1:-1] in ids
    ):
        return ids[value[1:-1]]
    return value


@pytest.mark.parametrize(("method", "path", "payload", "status", "code"), BAD_PAYLOADS)
def test_malformed_payload_is_refused_and_changes_nothing(
    world: World,
    bad_ids: dict[str, Any],
    method: str,
    path: str,
    payload: Any,
    status: int,
    code: str,
) -> None:
    # given the school's admin and a snapshot of the database
    client = client_for(world.personas["admin"])
    before = database_snapshot()
    # when a malformed payload is sent
    body = payload if isinstance(payload, str) else json.dumps(_fill(payload, bad_ids))
    response = client.generic(
        method, path.format(**bad_ids), data=body, content_type="application/json"
    )
    # then a clear 4xx error in the API's shape comes back and nothing changed
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert database_snapshot() == before


UNKNOWN_ID_PATHS = [
    ("GET", "/api/participants/{id}/"),
    ("PATCH", "/api/participants/{id}/"),
    ("GET", "/api/participants/{id}/guardians/"),
    ("POST", "/api/participants/{id}/guardians/"),
    ("GET", "/api/participants/{id}/consents/"),
    ("POST", "/api/participants/{id}/consents/"),
    ("POST", "/api/participants/{id}/enroll/"),
    ("POST", "/api/participants/{id}/caseload/"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN_ID_PATHS)
def test_unknown_and_other_school_ids_look_the_same(world: World, method: str, path: str) -> None:
    # given the admin, and ids that are unknown, malformed or of the other school
    client = client_for(world.personas["admin"])
    before = database_snapshot()
    bodies = []
    for some_id in (999999, "abc", world.ids["other_student"]):
        # when the admin addresses them with an otherwise valid request
        response = client.generic(
            method,
            path.format(id=some_id),
            data=json.dumps({"full_name": "X", "name": "X", "relation": "aunt"}),
            content_type="application/json",
        )
        # then each is a 404 in the API's shape
        assert response.status_code == 404, response.content
        bodies.append(response.json())
    # and the other school's id is indistinguishable from an unknown one; nothing changed
    assert (
        bodies[0] == bodies[1] == bodies[2] == {"error": "not_found", "detail": bodies[0]["detail"]}
    )
    assert database_snapshot() == before


@pytest.mark.parametrize(
    "path", ["/api/consents/{}/withdraw/", "/api/devices/{}/rotate/", "/api/devices/{}/revoke/"]
)
def test_unknown_record_and_device_ids_are_404(world: World, path: str) -> None:
    client = client_for(world.personas["admin"])
    before = database_snapshot()
    for some_id in (999999, "abc"):
        response = client.post(path.format(some_id), content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert database_snapshot() == before


def test_withdrawing_twice_is_refused(world: World) -> None:
    # given a record the admin already withdrew
    client = client_for(world.personas["admin"])
    url = f"/api/consents/{world.ids['record']}/withdraw/"
    assert client.post(url, content_type="application/json").status_code == 200
    before = database_snapshot()
    # when it is withdrawn again
    response = client.post(url, content_type="application/json")
    # then the action's reason comes back as a 400 and nothing changed
    assert response.status_code == 400
    assert response.json() == {
        "error": "consent_refused",
        "detail": "This record was already withdrawn.",
    }
    assert database_snapshot() == before


@pytest.mark.parametrize("count", [0, 6])
def test_enrollment_photo_count_outside_one_to_five_is_refused(world: World, count: int) -> None:
    # given the admin
    client = client_for(world.personas["admin"])
    before = database_snapshot()
    photos = [SimpleUploadedFile(f"{n}.jpg", b"\xff\xd8 x", "image/jpeg") for n in range(count)]
    # when 0 or 6 photos are uploaded
    response = client.post(f"/api/participants/{world.ids['student']}/enroll/", {"photos": photos})
    # then a 400 explains it and nothing changed
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert database_snapshot() == before
