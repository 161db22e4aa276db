"""Face enrollment: refused without face_template consent; real photos give encrypted
templates; photos are never stored; withdrawal destroys the templates at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consent.actions import EnrollmentError, enroll_face, withdraw_consent
from consent.models import FaceTemplate, Scope
from consent.template_crypto import decrypt_embedding
from tests.factories import grant_consent
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Participant

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "faces"
needs_faces = pytest.mark.skipif(
    not (FACES / "manifest.json").is_file(), reason=f"shared face photos not found at {FACES}"
)


def _photos(name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((FACES / "enroll" / name).iterdir())]


def test_enrollment_refused_without_face_template_consent(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given consent for emotion analysis only
    grant_consent(student, guardian, scopes=(Scope.EMOTION_ANALYSIS,))
    # when a photo is uploaded, then enrollment is refused before any processing
    with pytest.raises(EnrollmentError, match="no active face_template consent"):
        enroll_face(AuditContext.system(student.organization), student, [b"any bytes"])
    assert not FaceTemplate.objects.exists()


def test_enrollment_needs_one_to_five_photos(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    grant_consent(student, guardian)
    ctx = AuditContext.system(student.organization)
    with pytest.raises(EnrollmentError, match="between 1 and 5"):
        enroll_face(ctx, student, [])
    with pytest.raises(EnrollmentError, match="between 1 and 5"):
        enroll_face(ctx, student, [b"x"] * 6)


def test_non_image_is_refused_and_nothing_stored(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    grant_consent(student, guardian)
    with pytest.raises(EnrollmentError, match="Photo 1"):
        enroll_face(AuditContext.system(student.organization), student, [b"%PDF-1.4 not a photo"])
    assert not FaceTemplate.objects.exists()


@needs_faces
def test_real_photos_enroll_encrypted_templates_and_withdrawal_destroys_them(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given face_template consent
    record = grant_consent(student, guardian)
    ctx = AuditContext.system(student.organization)
    # when two real photos are enrolled
    templates = enroll_face(ctx, student, _photos("obama"))
    # then two 128-d templates are stored encrypted, with an audit event
    assert len(templates) == 2
    vectors = [decrypt_embedding(t.ciphertext) for t in FaceTemplate.objects.all()]
    assert all(v.shape == (128,) and np.isfinite(v).all() for v in vectors)
    assert np.linalg.norm(vectors[0] - vectors[1]) < 0.6  # same person
    assert AuditEvent.objects.filter(action="template.enroll").exists()
    # when consent is withdrawn, then the templates are destroyed at once
    withdraw_consent(ctx, record, note="guardian request")
    assert not FaceTemplate.objects.filter(participant=student).exists()
    assert AuditEvent.objects.filter(action="template.destroy").exists()


@needs_faces
def test_a_bad_photo_among_good_ones_stores_nothing(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    grant_consent(student, guardian)
    photos = [*_photos("biden"), b"\xff\xd8\xff\xe0 truncated jpeg"]
    with pytest.raises(EnrollmentError, match="Photo 3"):
        enroll_face(AuditContext.system(student.organization), student, photos)
    assert not FaceTemplate.objects.exists()
