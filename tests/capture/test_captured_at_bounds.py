"""X-Captured-At must lie between the session's start (less the clock-skew allowance) and now."""

from __future__ import annotations

from typing import Any

import pytest

from capture.ingest import MAX_CLOCK_SKEW_S
from capture.models import ClassSession, ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session

pytestmark = pytest.mark.django_db


def test_frame_from_before_the_session_is_refused(camera: Any, redis_client: Any) -> None:
    # given a session that has just started
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    started_at = ClassSession.objects.get(pk=session_id).started_at
    assert started_at is not None
    started = started_at.timestamp()
    photo = read_face("scenes/obama_240p.jpg")
    # when a frame claims to be from 20 minutes before the session started
    early = post_frame(token, session_id, 1, photo, captured_at=started - 1200)
    # then it is refused, saying why, and nothing is queued or stored
    assert early.status_code == 400
    assert "before the session" in early.json()["detail"]
    assert not ProcessedFrame.objects.exists()
    # while one within the clock-skew allowance is taken
    skewed = post_frame(token, session_id, 2, photo, captured_at=started - MAX_CLOCK_SKEW_S / 2)
    assert skewed.status_code == 202


def test_chunked_upload_without_length_is_told_to_send_one(camera: Any, redis_client: Any) -> None:
    # given a running session
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when a frame arrives chunked, with no Content-Length
    response = post_frame(
        token,
        session_id,
        1,
        read_face("scenes/obama_240p.jpg"),
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    # then 411 says to send Content-Length (not "the frame is empty")
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]


def test_cut_jpeg_with_an_end_marker_is_dropped_by_the_worker(
    camera: Any, obama: Any, redis_client: Any
) -> None:
    # given a running session and Obama's photo cut short, with FFD9 appended (ingest checks
    # only the trailer, keeping its answer fast; the worker decodes strictly)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    data = read_face("scenes/obama_1080p.jpg")
    forged = data[: int(len(data) * 0.7)] + b"\xff\xd9"
    # when sent
    assert post_frame(token, session_id, 1, forged).status_code == 202
    # then the worker drops it as undecodable: counted, nothing stored from a half-grey frame
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_dropped, session.frames_processed) == (1, 0)
    assert not ProcessedFrame.objects.exists()
