"""The server tells a capture client which acknowledged frames were processed, still wait, or
were lost, and queues a lost frame again when it is re-sent (issue 15: no acknowledged frame
is lost to a Redis restart or a backlog expiry)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from capture.devices import create_device
from capture.frame_store import INFERENCE_QUEUE, frame_key
from capture.models import ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.actions import AuditContext
from wellbeing.celery import app

pytestmark = pytest.mark.django_db
SCENE = "scenes/obama+biden.jpg"


@pytest.fixture
def real_broker(redis_client: Any) -> Iterator[Any]:
    """Tasks go to the tests' Redis broker instead of running in-process."""
    app.conf.task_always_eager = False
    try:
        yield redis_client
    finally:
        app.conf.task_always_eager = True
        redis_client.delete(INFERENCE_QUEUE)


def frame_statuses(token: str, sequences: Any) -> Any:
    return Client().post(
        "/api/ingest/frames/status",
        data=json.dumps({"sequences": sequences}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_processed_pending_and_lost_frames_are_told_apart(
    camera: Any, real_broker: Any, obama: Any, biden: Any
) -> None:
    device, token = camera
    session_id = start_session(token).json()["session_id"]
    # given three acknowledged frames: 1 waits in the queue, 2 lost its bytes (a Redis restart
    # or an expiry), 3 was processed by a worker
    for sequence in (1, 2, 3):
        assert post_frame(token, session_id, sequence, read_face(SCENE)).status_code == 202
    real_broker.delete(frame_key(f"{device.pk}:2"))
    real_broker.delete(frame_key(f"{device.pk}:3"))
    ProcessedFrame.objects.create(
        frame_id=f"{device.pk}:3", session_id=session_id, captured_at="2026-12-04T10:00:00Z"
    )
    # when the client asks where they are (and about one it never sent)
    response = frame_statuses(token, [1, 2, 3, 4])
    # then each is where it is: a frame never sent counts as lost (the client only asks about
    # frames it holds, so it would send it)
    assert response.status_code == 200
    assert response.json() == {"processed": [3], "pending": [1], "lost": [2, 4]}


def test_a_resent_lost_frame_is_queued_again_and_a_waiting_one_is_not(
    camera: Any, real_broker: Any
) -> None:
    device, token = camera
    session_id = start_session(token).json()["session_id"]
    for sequence in (1, 2):
        assert post_frame(token, session_id, sequence, read_face(SCENE)).status_code == 202
    # given frame 2's bytes and task are gone (Redis restarted without persistence)
    real_broker.delete(frame_key(f"{device.pk}:2"), INFERENCE_QUEUE)
    # when the client sends both again
    again = {s: post_frame(token, session_id, s, read_face(SCENE)) for s in (1, 2)}
    # then frame 1 (bytes still waiting) is "already received", frame 2 is queued once more
    assert again[1].status_code == 200
    assert again[1].json()["status"] == "already received"
    assert again[2].status_code == 202
    assert real_broker.exists(frame_key(f"{device.pk}:2"))
    assert real_broker.llen(INFERENCE_QUEUE) == 1


def test_a_processed_frame_sent_again_is_not_queued(camera: Any, obama: Any, biden: Any) -> None:
    # given a frame that was processed (tasks run in-process here)
    device, token = camera
    session_id = start_session(token).json()["session_id"]
    assert post_frame(token, session_id, 7, read_face(SCENE)).status_code == 202
    assert ProcessedFrame.objects.filter(frame_id=f"{device.pk}:7").count() == 1
    # when it is sent again, then it is "already received" and stored once
    again = post_frame(token, session_id, 7, read_face(SCENE))
    assert again.json()["status"] == "already received"
    assert ProcessedFrame.objects.filter(frame_id=f"{device.pk}:7").count() == 1
    assert frame_statuses(token, [7]).json()["processed"] == [7]


def test_a_device_learns_nothing_about_another_devices_frames(
    camera: Any, school: Any, classroom: Any, obama: Any, biden: Any
) -> None:
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    assert post_frame(token, session_id, 9, read_face(SCENE)).status_code == 202
    # given a second device of the same school
    _, other_token = create_device(AuditContext.system(school), "Laptop", classroom=classroom)
    # when it asks about the same sequence number, then it hears only of its own (none)
    assert frame_statuses(other_token, [9]).json() == {"processed": [], "pending": [], "lost": [9]}


@pytest.mark.parametrize(
    "body",
    [
        "[",
        json.dumps({"sequences": []}),
        json.dumps({"sequences": ["1"]}),
        json.dumps({"sequences": list(range(501))}),
        json.dumps({"sequences": [-1]}),
        json.dumps([1, 2]),
        "[" * 5000,
    ],
)
def test_a_bad_status_query_is_a_clear_400(camera: Any, body: str) -> None:
    response = Client().post(
        "/api/ingest/frames/status",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {camera[1]}",
    )
    assert response.status_code == 400
    assert "sequences" in response.json()["detail"]


def test_a_status_query_with_a_wrong_token_is_401(camera: Any) -> None:
    assert frame_statuses("not-a-token", [1]).status_code == 401
