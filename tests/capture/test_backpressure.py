"""Backpressure: a long inference queue gets 429 + Retry-After, and the frame is not kept."""

from __future__ import annotations

from typing import Any

import pytest

from capture.frame_store import INFERENCE_QUEUE
from capture.models import ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session

pytestmark = pytest.mark.django_db


def test_full_inference_queue_answers_429_and_keeps_nothing(
    camera: Any, redis_client: Any, settings: Any
) -> None:
    # given a queue bound of 3 and 3 tasks already waiting in the `inference` list
    settings.INGEST_MAX_QUEUE = 3
    session_id = start_session(camera[1]).json()["session_id"]
    redis_client.rpush(INFERENCE_QUEUE, b"waiting-1", b"waiting-2", b"waiting-3")
    try:
        # when a good frame arrives
        response = post_frame(camera[1], session_id, 1, read_face("scenes/obama_240p.jpg"))
        # then 429 queue_full with Retry-After, no frame bytes parked, nothing queued or stored
        assert response.status_code == 429
        assert response.json()["error"] == "queue_full"
        assert int(response["Retry-After"]) > 0
        assert list(redis_client.scan_iter("wb:frame:*")) == []
        assert list(redis_client.scan_iter("wb:seen:*")) == []
        assert redis_client.llen(INFERENCE_QUEUE) == 3
        assert not ProcessedFrame.objects.exists()
    finally:
        redis_client.delete(INFERENCE_QUEUE)


def test_frame_is_admitted_again_once_the_queue_drains(
    camera: Any, redis_client: Any, settings: Any
) -> None:
    # given a frame refused with 429 while the queue was full
    settings.INGEST_MAX_QUEUE = 1
    session_id = start_session(camera[1]).json()["session_id"]
    redis_client.rpush(INFERENCE_QUEUE, b"waiting")
    photo = read_face("scenes/obama_240p.jpg")
    assert post_frame(camera[1], session_id, 1, photo).status_code == 429
    # when the queue has drained and the client re-sends the same frame
    redis_client.delete(INFERENCE_QUEUE)
    response = post_frame(camera[1], session_id, 1, photo)
    # then it is queued (not mistaken for "already received") and stored once
    assert response.status_code == 202
    assert ProcessedFrame.objects.filter(frame_id=f"{camera[0].pk}:1").count() == 1
