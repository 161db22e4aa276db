"""Fixtures of the pipeline tests: a classroom camera, consented and enrolled demo faces; and
the frames and checks several of them share (a back-row face, a decompression bomb)."""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis
from django.conf import settings
from django.test import Client
from PIL import Image

from capture.devices import create_device
from capture.models import CaptureDevice, Observation, ProcessedFrame
from consent.actions import enroll_face
from inference.classroom_scene import crop_faces
from inference.image_io import decode_image
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization, Participant

FACES = Path(settings.BASE_DIR).parent / "shared" / "testdata" / "faces"


def require_faces() -> Path:
    if not (FACES / "manifest.json").is_file():
        pytest.skip(f"shared test faces not found at {FACES} (../shared/testdata/faces)")
    return FACES


def read_face(relative: str) -> bytes:
    return (require_faces() / relative).read_bytes()


def back_row_student_jpeg(identity: str = "obama") -> bytes:
    """The person's head at 36 px on a 640x480 frame: a face of about 21 px, enough to tell who
    (16 px and more) but not enough for an expression (24 px and more)."""
    head = crop_faces([decode_image(read_face(f"enroll/{identity}/2.jpg"))])[0]
    frame = np.full((480, 640, 3), 165, np.uint8)
    frame[200:236, 300:336] = cv2.resize(head, (36, 36), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(data.tobytes())


def png_header_announcing(width: int, height: int) -> bytes:
    """A tiny, valid PNG whose header claims a huge canvas (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR checksum
    return bytes(data)


@pytest.fixture
def redis_client() -> Any:
    """The tests' Redis database, emptied of frame keys and queued tasks before each test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("wb:*"):
        client.delete(key)
    client.delete("inference")
    return client


def assert_no_trace(redis_client: Any) -> None:
    """A refused upload left nothing: no frame or observation row, no Redis key, no task."""
    assert ProcessedFrame.objects.count() == 0
    assert Observation.objects.count() == 0
    assert list(redis_client.scan_iter("wb:*")) == []
    assert redis_client.llen("inference") == 0


@pytest.fixture
def camera(
    school: Organization, classroom: Classroom, redis_client: Any
) -> tuple[CaptureDevice, str]:
    """The 7B classroom camera and its plaintext token."""
    return create_device(AuditContext.system(school), "7B camera", classroom=classroom)


def enroll(participant: Participant, identity: str) -> None:
    photo = read_face(f"enroll/{identity}/1.jpg")
    enroll_face(AuditContext.system(participant.organization), participant, [photo])


@pytest.fixture
def obama(school: Organization, classroom: Classroom, notice: Any) -> Participant:
    """A 7B student with full consent whose enrolled face is Obama's."""
    person = make_participant(school, "Obama Student", classroom=classroom)
    grant_consent(person, make_guardian(person))
    enroll(person, "obama")
    return person


@pytest.fixture
def biden(school: Organization, classroom: Classroom, notice: Any) -> Participant:
    person = make_participant(school, "Biden Student", classroom=classroom)
    grant_consent(person, make_guardian(person))
    enroll(person, "biden")
    return person


def start_session(token: str, **body: Any) -> Any:
    return Client().post(
        "/api/ingest/sessions",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def post_frame(
    token: str,
    session_id: int | str,
    sequence: int | str,
    data: bytes,
    content_type: str = "image/jpeg",
    captured_at: float | None = None,
    **extra: Any,
) -> Any:
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_SESSION_ID": str(session_id),
        "HTTP_X_SEQUENCE": str(sequence),
        "HTTP_X_CAPTURED_AT": str(time.time() if captured_at is None else captured_at),
        **extra,
    }
    return Client().generic(
        "POST", "/api/ingest/frames", data=data, content_type=content_type, **headers
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` every ``every`` seconds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
