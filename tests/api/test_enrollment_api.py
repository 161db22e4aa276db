"""Face enrollment through the API: refused without consent; real photos give templates."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.models import FaceTemplate, Scope
from tests.api.conftest import World, client_for, database_snapshot
from tests.factories import grant_consent
from wellbeing.models import AuditEvent, Guardian, Participant

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "faces"


def _engine_missing() -> bool:
    try:
        return not hasattr(importlib.import_module("inference"), "FaceEngine")
    except ImportError:
        return True


needs_engine = pytest.mark.skipif(
    _engine_missing(), reason="inference.FaceEngine is not importable yet (face engine issue)"
)
needs_faces = pytest.mark.skipif(
    not (FACES / "manifest.json").is_file(), reason=f"shared face photos not found at {FACES}"
)


def _upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), "image/jpeg")


def test_enrollment_refused_without_face_template_consent(
    world: World, student: Participant
) -> None:
    # given a student with emotion-analysis consent only (world fixture)
    client = client_for(world.personas["admin"])
    before = database_snapshot()
    photo = SimpleUploadedFile("face.jpg", b"\xff\xd8 any bytes", "image/jpeg")
    # when the admin uploads a photo
    response = client.post(f"/api/participants/{student.pk}/enroll/", {"photos": [photo]})
    # then it is refused before any processing, saying why, and nothing is stored
    assert response.status_code == 400
    assert response.json()["error"] == "enrollment_refused"
    assert "no active face_template consent" in response.json()["detail"]
    assert database_snapshot() == before


@needs_engine
def test_unusable_photo_is_refused_with_its_number(
    world: World, student: Participant, guardian: Guardian
) -> None:
    # given face_template consent
    grant_consent(student, guardian, scopes=(Scope.FACE_TEMPLATE,))
    before = database_snapshot()
    photo = SimpleUploadedFile("doc.pdf", b"%PDF-1.4 not a photo", "application/pdf")
    # when a non-image is uploaded
    response = client_for(world.personas["admin"]).post(
        f"/api/participants/{student.pk}/enroll/", {"photos": [photo]}
    )
    # then it is a 400 naming the photo, and nothing was stored
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Photo 1")
    assert database_snapshot() == before


@needs_engine
@needs_faces
def test_real_photos_are_enrolled_as_templates_only(
    world: World, student: Participant, guardian: Guardian
) -> None:
    # given face_template consent and two real photos of one person
    grant_consent(student, guardian, scopes=(Scope.FACE_TEMPLATE,))
    photos = [_upload(p) for p in sorted((FACES / "enroll" / "obama").iterdir())]
    client = client_for(world.personas["admin"])
    # when the admin enrolls them
    response = client.post(f"/api/participants/{student.pk}/enroll/", {"photos": photos})
    # then two encrypted templates exist, the response shows counts only, and it is audited
    assert response.status_code == 201, response.content
    assert response.json() == {"templates_created": 2, "face_template_count": 2}
    assert FaceTemplate.objects.filter(participant=student).count() == 2
    row = client.get(f"/api/participants/{student.pk}/").json()
    assert row["face_template_count"] == 2
    assert AuditEvent.objects.filter(action="template.enroll", detail__count=2).exists()
