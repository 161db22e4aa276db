"""A consented student whose face is too small for an expression counts as present but not
assessable: nothing about their expression is stored, and the live numbers say so."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from capture import processing
from capture.models import Observation
from inference.classroom_scene import crop_faces
from inference.image_io import decode_image
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.models import ClassSession, Participant

pytestmark = pytest.mark.django_db


def back_row_student_jpeg() -> bytes:
    """Obama's head at 36 px on a 640x480 frame: a face of about 21 px, enough to tell who
    (16 px and more) but not enough for an expression (24 px and more)."""
    head = crop_faces([decode_image(read_face("enroll/obama/2.jpg"))])[0]
    frame = np.full((480, 640, 3), 165, np.uint8)
    frame[200:236, 300:336] = cv2.resize(head, (36, 36), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(data.tobytes())


def test_small_face_is_present_not_assessable(
    camera: Any, obama: Participant, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the live view listening, and a frame where Obama sits in the back row
    pushed: list[dict[str, Any]] = []
    monkeypatch.setattr(processing, "push_live_summary", pushed.append)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when the frame is processed
    assert post_frame(token, session_id, 1, back_row_student_jpeg()).status_code == 202
    # then no expression is stored for him, and he counts as present, not assessable
    assert not Observation.objects.exists()
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_processed, session.not_assessable_faces) == (1, 1)
    (summary,) = pushed
    assert (summary["faces_seen"], summary["recognised"]) == (1, 0)
    assert (summary["not_assessable"], summary["unknown"]) == (1, 0)
