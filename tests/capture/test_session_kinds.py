"""Session kinds and per-session worker state: personal devices, scheduled sessions, smoothing."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from capture.devices import create_device
from capture.models import ClassSession, Observation, SessionStatus
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Participant

pytestmark = pytest.mark.django_db

SCENE = "scenes/obama+biden.jpg"


def test_personal_device_attributes_only_its_participant(
    obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given Obama's personal device (Biden is consented and enrolled in the same classroom)
    _, token = create_device(AuditContext.system(obama.organization), "tablet", participant=obama)
    session_id = start_session(token).json()["session_id"]
    # when a frame showing both of them arrives from it
    assert post_frame(token, session_id, 1, read_face(SCENE)).status_code == 202
    # then only Obama is observed; Biden is an unknown face on this session
    assert set(Observation.objects.values_list("participant_id", flat=True)) == {obama.pk}
    session = ClassSession.objects.get(pk=session_id)
    assert (session.participant_id, session.classroom_id) == (obama.pk, None)
    assert session.unknown_faces == 2


def test_camera_joins_a_scheduled_session(
    camera: Any, classroom: Classroom, redis_client: Any
) -> None:
    # given a session scheduled for the camera's classroom
    scheduled = ClassSession.objects.create(classroom=classroom, title="Maths")
    assert scheduled.status == SessionStatus.SCHEDULED
    # when the camera starts with that session id
    response = start_session(camera[1], session_id=scheduled.pk)
    # then it joins it (200, not a new session) and the session is running
    assert response.status_code == 200
    assert response.json()["session_id"] == scheduled.pk
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.device_id) == (SessionStatus.RUNNING, camera[0].pk)
    assert ClassSession.objects.count() == 1


def brighter(jpeg: bytes) -> bytes:
    """The same scene with more contrast: faces stay put, the emotion scores move a little."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    changed = cv2.convertScaleAbs(image, alpha=1.3, beta=-20)
    return bytes(cv2.imencode(".jpg", changed)[1].tobytes())


def obama_probs(session_id: int, frame_id: str) -> np.ndarray:
    row = Observation.objects.get(session_id=session_id, frame_id=frame_id)
    return np.array([row.p_angry, row.p_happy, row.p_neutral, row.p_sad, row.p_surprise])


def test_probabilities_are_smoothed_across_frames_of_a_session_only(
    camera: Any, obama: Participant, redis_client: Any
) -> None:
    # given a session that saw the scene, then the same scene with more contrast
    token, device = camera[1], camera[0]
    first, second = read_face(SCENE), brighter(read_face(SCENE))
    tracked = start_session(token).json()["session_id"]
    post_frame(token, tracked, 1, first)
    post_frame(token, tracked, 2, second)
    # and a fresh session that sees only the second frame
    fresh = start_session(token).json()["session_id"]
    post_frame(token, fresh, 3, second)
    raw_second = obama_probs(fresh, f"{device.pk}:3")
    raw_first = obama_probs(tracked, f"{device.pk}:1")
    smoothed_second = obama_probs(tracked, f"{device.pk}:2")
    # then the tracked session stores the mean of both frames, the fresh one the raw scores
    assert not np.allclose(raw_first, raw_second, atol=1e-4)  # the scene change is visible
    assert np.allclose(smoothed_second, (raw_first + raw_second) / 2, atol=1e-4)
