"""Enrollment work in the web request is bounded (issue 15: enrolling a 40-megapixel photo took
6.2 s of a web request): at most ENROLLMENT_MAX_PIXELS are ever decoded (a large JPEG at 1/2,
1/4 or 1/8 scale; any other format that large is refused from its header), the picture handed
to the face engine is no larger than the detector searches, and every photo's header is
checked before any photo is decoded."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from consent.actions import EnrollmentError, enroll_face
from consent.models import FaceTemplate, Scope
from inference.image_io import TooManyPixelsError
from tests.api.conftest import database_snapshot
from tests.conftest import login
from tests.factories import grant_consent
from wellbeing.actions import AuditContext
from wellbeing.face_engine import (
    ENROLLMENT_DECODE_SIDE,
    check_enrollment_photo,
    compute_enrollment_embedding,
    decode_enrollment_photo,
)
from wellbeing.models import Guardian, Participant, StaffMember

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "faces"
needs_faces = pytest.mark.skipif(
    not (FACES / "manifest.json").is_file(), reason=f"shared face photos not found at {FACES}"
)
SIZE_40MP = (7296, 5472)  # a 40-megapixel camera's photo


@cache
def face_photo() -> np.ndarray:
    image = cv2.imread(str(FACES / "enroll" / "obama" / "1.jpg"))
    assert image is not None
    return image


@cache
def photo_40mp(fmt: str) -> bytes:
    """A 40 MP photo: the enrollment face enlarged three times on a flat background (so that
    even the PNG stays far under MAX_UPLOAD_BYTES, as the issue's attack PNG did)."""
    width, height = SIZE_40MP
    canvas = np.full((height, width, 3), 200, np.uint8)
    face = face_photo()
    big = cv2.resize(face, (face.shape[1] * 3, face.shape[0] * 3), interpolation=cv2.INTER_AREA)
    canvas[: big.shape[0], : big.shape[1]] = big
    ok, data = cv2.imencode(f".{fmt}", canvas)
    assert ok
    return data.tobytes()


def flat_jpeg(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


@needs_faces
def test_every_photo_is_checked_before_any_is_analysed(
    student: Participant, guardian: Guardian, notice: object
) -> None:
    # given face_template consent, a photo without a face and then a 40 MP PNG
    grant_consent(student, guardian)
    photos = [flat_jpeg(640, 480), photo_40mp("png")]
    # when enrolled, then photo 2 is refused for its size: photo 1, whose analysis would have
    # found no face, was never analysed
    with pytest.raises(EnrollmentError, match=r"Photo 2: .*megapixels"):
        enroll_face(AuditContext.system(student.organization), student, photos)
    assert not FaceTemplate.objects.exists()


@needs_faces
def test_the_api_answers_400_for_a_40_megapixel_png(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: object
) -> None:
    # given face_template consent
    grant_consent(student, guardian, scopes=(Scope.FACE_TEMPLATE,))
    before = database_snapshot()
    photo = SimpleUploadedFile("huge.png", photo_40mp("png"), "image/png")
    # when the admin uploads a 40 MP PNG
    response = login(admin).post(f"/api/participants/{student.pk}/enroll/", {"photos": [photo]})
    # then it is a 400 that says why and what to send, and nothing is stored
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "enrollment_refused"
    assert body["detail"].startswith("Photo 1") and "JPEG" in body["detail"]
    assert database_snapshot() == before


@needs_faces
def test_a_40_megapixel_png_is_refused(
    student: Participant, guardian: Guardian, notice: object
) -> None:
    # given a 40 MP PNG photo of one face (under the 10 MB and 40 MP upload limits)
    data = photo_40mp("png")
    # when enrollment analyses it, then it is refused with a plain-words reason
    with pytest.raises(ValueError, match=r"megapixels.*JPEG"):
        compute_enrollment_embedding(data)


@needs_faces
def test_the_png_is_refused_by_the_header_check_alone() -> None:
    # given the 40 MP PNG, then the cheap header check refuses it, as decoding does
    with pytest.raises(TooManyPixelsError, match="megapixels"):
        check_enrollment_photo(photo_40mp("png"))
    with pytest.raises(TooManyPixelsError):
        decode_enrollment_photo(photo_40mp("png"))


@needs_faces
def test_a_40_megapixel_jpeg_reaches_the_engine_at_the_detectors_size() -> None:
    # given a 40 MP JPEG photo of one face
    data = photo_40mp("jpg")
    # when decoded for enrollment, then the engine gets it no larger than the detector searches
    assert ENROLLMENT_DECODE_SIDE == 1920
    assert decode_enrollment_photo(data).shape == (1440, 1920, 3)
    # and its template matches the one of the original photo (match threshold 0.6; two photos
    # of the same person are ~0.35 apart)
    original = compute_enrollment_embedding((FACES / "enroll" / "obama" / "1.jpg").read_bytes())
    assert float(np.linalg.norm(compute_enrollment_embedding(data) - original)) < 0.3


@needs_faces
@override_settings(ENROLLMENT_MAX_PIXELS=50_000_000)
def test_the_decoded_pixel_limit_is_a_setting() -> None:
    # given ENROLLMENT_MAX_PIXELS raised above 40 MP, then the PNG passes the check and is
    # decoded, still shrunk to the detector's size before the engine sees it
    data = photo_40mp("png")
    check_enrollment_photo(data)
    assert decode_enrollment_photo(data).shape == (1440, 1920, 3)
