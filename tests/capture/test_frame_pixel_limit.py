"""Frames are limited to camera resolutions (issue 15, fair use of the workers).

A 7000x5700 flat PNG is 130 KB, far under the byte limit, yet cost a worker 4.65 s of CPU and
800 MB; it was accepted because frames shared the 40-megapixel limit of enrollment photos. Frames
now have their own limit (FRAME_MAX_PIXELS, 3840x2160 by default: a 4K camera), checked on the
header at ingest, before anything is queued.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from tests.capture.conftest import (
    assert_no_trace,
    png_header_announcing,
    post_frame,
    start_session,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id(camera: Any) -> int:
    return int(start_session(camera[1]).json()["session_id"])


def flat_png(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), 200, np.uint8))
    assert ok
    return bytes(data.tobytes())


def test_huge_flat_png_is_refused_before_queueing(
    camera: Any, session_id: int, redis_client: Any
) -> None:
    # given a 7000x5700 flat PNG (a few hundred KB, under the 40-megapixel photo limit)
    body = flat_png(7000, 5700)
    # when a device posts it as a frame
    response = post_frame(camera[1], session_id, 1, body, "image/png")
    # then it is refused with the frame limit named, and nothing is queued
    assert response.status_code == 422
    assert "3840x2160" in response.json()["detail"]
    assert_no_trace(redis_client)


@pytest.mark.parametrize(("width", "height"), [(3840, 2160), (2160, 3840), (4000, 2000)])
def test_frames_up_to_4k_pixels_are_accepted(
    camera: Any, session_id: int, redis_client: Any, width: int, height: int
) -> None:
    # given a frame with at most as many pixels as a 4K camera's, in either orientation
    body = png_header_announcing(width, height)
    # when posted, then the pixel check lets it through (this body then fails decoding checks
    # only for being a one-pixel image with a forged header, never for its pixel count)
    response = post_frame(camera[1], session_id, 1, body, "image/png")
    assert "pixels" not in response.json().get("detail", "")
