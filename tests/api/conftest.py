"""API fixtures: one populated school plus a second school, and JSON helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from capture.devices import create_device
from capture.models import CaptureDevice
from consent.models import ConsentNotice, ConsentRecord, FaceTemplate, Scope
from tests.conftest import login
from tests.factories import grant_consent, make_classroom, make_participant, make_staff
from wellbeing.actions import AuditContext
from wellbeing.models import (
    AuditEvent,
    CaseloadAssignment,
    Classroom,
    Guardian,
    Participant,
    Role,
    StaffMember,
)


@dataclass
class World:
    """Everything the access matrix needs; ``ids`` fills ``{name}`` placeholders in paths."""

    personas: dict[str, StaffMember | None]
    ids: dict[str, int]


@pytest.fixture
def world(
    admin: StaffMember,
    counselor: StaffMember,
    teacher: StaffMember,
    classroom: Classroom,
    student: Participant,
    guardian: Guardian,
    notice: ConsentNotice,
    other_admin: StaffMember,
    other_student: Participant,
) -> World:
    school = admin.organization
    unassigned = make_participant(school, "Unassigned Student", classroom=classroom)
    spare_room = make_classroom(school, "9C")
    second_counselor = make_staff(school, Role.COUNSELOR, "counselor2")
    # Emotion analysis only, so enrollment is refused before the face engine is needed.
    record = grant_consent(student, guardian, scopes=(Scope.EMOTION_ANALYSIS,))
    device, _ = create_device(AuditContext.system(school), "Camera 7B", classroom=classroom)
    personas = {
        "admin": admin,
        "counselor": counselor,
        "teacher": teacher,
        "anonymous": None,
        "other_admin": other_admin,
    }
    ids = {
        "student": student.pk,
        "unassigned": unassigned.pk,
        "other_student": other_student.pk,
        "classroom": classroom.pk,
        "spare_room": spare_room.pk,
        "counselor2": second_counselor.pk,
        "guardian": guardian.pk,
        "record": record.pk,
        "notice": notice.pk,
        "device": device.pk,
    }
    return World(personas, ids)


def client_for(staff: StaffMember | None) -> Client:
    return login(staff) if staff is not None else Client()


def post_json(client: Client, path: str, payload: Any = None) -> Any:
    return client.post(path, payload or {}, content_type="application/json")


def patch_json(client: Client, path: str, payload: Any) -> Any:
    return client.patch(path, payload, content_type="application/json")


def database_snapshot() -> tuple[Any, ...]:
    """Row counts and the mutable fields the API can change, to prove a request changed nothing."""
    return (
        Participant.objects.count(),
        sorted(Participant.objects.values_list("pk", "full_name", "grade")),
        sorted(Participant.classrooms.through.objects.values_list("pk", flat=True)),
        Guardian.objects.count(),
        sorted(ConsentRecord.objects.values_list("pk", "withdrawn_at")),
        ConsentNotice.objects.count(),
        sorted(CaptureDevice.objects.values_list("pk", "token_hash", "revoked_at")),
        CaseloadAssignment.objects.count(),
        FaceTemplate.objects.count(),
        AuditEvent.objects.count(),
    )
