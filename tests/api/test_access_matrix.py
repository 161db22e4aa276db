"""Every role against every endpoint, across two schools: allowed and forbidden.

Teachers get 403 on participant endpoints (class-level aggregates only); another school's ids
are 404 (never confirming they exist); anonymous callers get 403. A refused request changes
nothing, not even the audit trail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import World, client_for, database_snapshot

PERSONAS = ("admin", "counselor", "teacher", "anonymous", "other_admin")

CONSENT_PAYLOAD = {
    "scopes": ["emotion_analysis"],
    "decision": "refuse",
    "given_by": "student",
    "evidence_reference": "form-9",
    "evidence_date": "2026-09-02",
}

# (method, path, payload, expected status per persona in PERSONAS order)
MATRIX: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("GET", "/api/participants/", None, (200, 200, 403, 403, 200)),
    ("POST", "/api/participants/", {"full_name": "New Student"}, (201, 403, 403, 403, 201)),
    ("GET", "/api/participants/{student}/", None, (200, 200, 403, 403, 404)),
    ("GET", "/api/participants/{unassigned}/", None, (200, 404, 403, 403, 404)),
    ("PATCH", "/api/participants/{student}/", {"grade": "8"}, (200, 403, 403, 403, 404)),
    ("GET", "/api/participants/{student}/guardians/", None, (200, 403, 403, 403, 404)),
    (
        "POST",
        "/api/participants/{student}/guardians/",
        {"name": "New Parent", "relation": "father"},
        (201, 403, 403, 403, 404),
    ),
    ("GET", "/api/participants/{student}/consents/", None, (200, 200, 403, 403, 404)),
    ("GET", "/api/participants/{unassigned}/consents/", None, (200, 404, 403, 403, 404)),
    (
        "POST",
        "/api/participants/{student}/consents/",
        CONSENT_PAYLOAD,
        (201, 403, 403, 403, 404),
    ),
    ("GET", "/api/consents/{record}/", None, (200, 200, 403, 403, 404)),
    ("POST", "/api/consents/{record}/withdraw/", {"note": "x"}, (200, 403, 403, 403, 404)),
    ("GET", "/api/notices/", None, (200, 200, 200, 403, 200)),
    ("GET", "/api/notices/{notice}/", None, (200, 200, 200, 403, 404)),
    # The other school's admin may publish too, but none of its consents lapse, so the count
    # reviewed here (the student's one consent) is stale there: 400 confirmation_required.
    (
        "POST",
        "/api/notices/",
        {"title": "v2", "text": "New text", "confirm": True, "reviewed_lapses": 1},
        (201, 403, 403, 403, 400),
    ),
    # Admin: 400 because the student has no face_template consent (refused before the engine).
    ("POST", "/api/participants/{student}/enroll/", "PHOTO", (400, 403, 403, 403, 404)),
    (
        "POST",
        "/api/participants/{student}/caseload/",
        {"counselor": "{counselor2}"},
        (201, 403, 403, 403, 404),
    ),
    ("GET", "/api/classrooms/", None, (200, 200, 200, 403, 200)),
    ("GET", "/api/classrooms/{classroom}/", None, (200, 200, 200, 403, 404)),
    ("GET", "/api/classrooms/{spare_room}/", None, (200, 200, 404, 403, 404)),
    ("GET", "/api/devices/", None, (200, 403, 403, 403, 200)),
    # Other admin: the classroom id is of another school, so it "does not exist" (400).
    (
        "POST",
        "/api/devices/",
        {"name": "Cam 2", "classroom": "{classroom}"},
        (201, 403, 403, 403, 400),
    ),
    ("GET", "/api/devices/{device}/", None, (200, 403, 403, 403, 404)),
    ("POST", "/api/devices/{device}/rotate/", None, (200, 403, 403, 403, 404)),
    ("POST", "/api/devices/{device}/revoke/", None, (200, 403, 403, 403, 404)),
]

CASES = [
    pytest.param(method, path, payload, persona, expected[i], id=f"{persona}-{method}-{path}")
    for method, path, payload, expected in MATRIX
    for i, persona in enumerate(PERSONAS)
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def _send(world: World, method: str, path: str, payload: Any, persona: str) -> Any:
    client = client_for(world.personas[persona])
    url = path.format(**world.ids)
    if payload == "PHOTO":
        photo = SimpleUploadedFile("face.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")
        return client.post(url, {"photos": [photo]})
    body = _fill(payload, world.ids)
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, data=json.dumps(body or {}), content_type="application/json")


@pytest.mark.parametrize(("method", "path", "payload", "persona", "expected"), CASES)
def test_access_matrix(
    world: World, method: str, path: str, payload: Any, persona: str, expected: int
) -> None:
    # given two schools with data, and a snapshot of everything the API can change
    before = database_snapshot()
    # when the persona calls the endpoint
    response = _send(world, method, path, payload, persona)
    # then the status is the one the matrix allows, with the API's error shape on refusal
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) >= {"error", "detail"}
        # and a refused request changed nothing (reads of denied data leave no audit event)
        assert database_snapshot() == before
