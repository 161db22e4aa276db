"""Inputs from the outside attack run that gave 500s: deeply nested JSON and NUL bytes.

Each gets a 400 with a message that says what is wrong, whoever sends it, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from capture.devices import create_device
from tests.capture.conftest import start_session
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Classroom, StaffMember

pytestmark = pytest.mark.django_db

NESTED = "[" * 5000 + "]" * 5000
JSON_WRITES = [
    ("post", "/api/classrooms/"),
    ("patch", "/api/school/"),
    ("post", "/api/staff/"),
    ("post", "/api/participants/"),
]
NUL_QUERIES = [
    "/api/alerts/?severity=%00",
    "/api/participants/?q=a%00b",
    "/audit/?action=%00",
    "/consent/participants/?q=%00",
    "/?q=%00",
    "/alerts/?status=%00",
]


def signed_in(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


@pytest.mark.parametrize(("method", "path"), JSON_WRITES)
def test_deeply_nested_json_is_a_clear_400(admin: StaffMember, method: str, path: str) -> None:
    # given a signed-in admin, and the audit trail's length
    client = signed_in(admin)
    events = AuditEvent.objects.count()
    # when a write arrives whose body nests 5000 arrays deep
    response = getattr(client, method)(path, data=NESTED, content_type="application/json")
    # then it is refused as a bad request that says why, and nothing was written
    assert response.status_code == 400, (path, response.status_code)
    assert "nested" in response.json()["detail"].lower()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(("method", "path"), JSON_WRITES)
def test_teacher_gets_403_not_500_for_nested_json(
    teacher: StaffMember, method: str, path: str
) -> None:
    # given a teacher, who may not make these writes / when the body nests 5000 deep
    response = getattr(signed_in(teacher), method)(
        path, data=NESTED, content_type="application/json"
    )
    # then the permission check answers first
    assert response.status_code == 403, (path, response.status_code)


@pytest.mark.parametrize("path", NUL_QUERIES)
def test_nul_byte_in_a_query_is_a_clear_400(admin: StaffMember, path: str) -> None:
    # given a signed-in admin / when a list or search is asked for with a NUL byte in it
    response = signed_in(admin).get(path)
    # then a 400 says the request contains a NUL byte
    assert response.status_code == 400, (path, response.status_code)
    assert "nul" in response.content.decode().lower()


def test_ingest_refuses_nested_json_and_nul_titles_without_asking_to_retry(
    classroom: Classroom,
) -> None:
    # given a classroom camera
    _, token = create_device(
        AuditContext.system(classroom.organization), "cam", classroom=classroom
    )
    # when it starts a session with a NUL byte in the title, or with a nested body
    titled = start_session(token, title="Maths\x00")
    nested = Client().post(
        "/api/ingest/sessions",
        data=NESTED,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then both are 400s (a 503 would make the client retry forever) and no session exists
    assert (titled.status_code, nested.status_code) == (400, 400)
    assert "nul" in titled.json()["detail"].lower()
    assert "nested" in nested.json()["detail"].lower()
    assert not classroom.sessions.exists()


def test_valid_requests_still_work(admin: StaffMember, teacher: Any) -> None:
    # given the same endpoints / when used normally / then they answer as before
    client = signed_in(admin)
    assert client.get("/api/alerts/?severity=urgent").status_code == 200
    created = client.post("/api/classrooms/", data={"name": "9Z"}, content_type="application/json")
    assert created.status_code == 201
