"""Session-affine routing (INFERENCE_SHARDS): a session's frames wait on one shard queue, sessions
spread over the shards by id, a full shard refuses only its own sessions, and the default keeps
the single ``inference`` queue. Real Redis broker; no worker runs in these tests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from capture.fair_scheduling import fair_scheduling_enabled, get_turn_scheduler
from capture.frame_store import INFERENCE_QUEUE
from capture.routing import inference_queue, shard_queue
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.celery import app

pytestmark = pytest.mark.django_db

PHOTO = "scenes/obama_240p.jpg"


@pytest.fixture
def real_broker(redis_client: Any) -> Iterator[Any]:
    """Tasks go to the tests' Redis broker instead of running in-process."""
    queues = [INFERENCE_QUEUE, *(shard_queue(k) for k in range(4))]
    redis_client.delete(*queues)
    app.conf.task_always_eager = False
    try:
        yield redis_client
    finally:
        app.conf.task_always_eager = True
        redis_client.delete(*queues)


def session_per_shard(token: str, shards: int) -> dict[int, int]:
    """Start sessions until each shard has one; {shard: session id}. Ids rise by one."""
    found: dict[int, int] = {}
    for _ in range(4 * shards):
        session_id = int(start_session(token).json()["session_id"])
        found.setdefault(session_id % shards, session_id)
        if len(found) == shards:
            return found
    raise AssertionError(f"no session on every shard: {found}")


def queued_frames(broker: Any, queue: str) -> list[str]:
    """Frame ids waiting for ``queue``'s workers, oldest first: with fair scheduling (default)
    in the scheduler's pending lists of that queue, one turn task on ``queue`` each; without it
    the process_frame_task messages on ``queue``."""
    messages = [json.loads(m) for m in reversed(broker.lrange(queue, 0, -1))]  # LPUSH'd
    if not fair_scheduling_enabled():
        return [m["headers"]["argsrepr"].split("'")[1] for m in messages]
    assert {m["headers"]["task"] for m in messages} <= {"capture.tasks.process_next_frame_task"}
    frames = [frame.frame_id for frame in get_turn_scheduler().waiting_frames(queue)]
    assert len(messages) == len(frames)
    return frames


def test_frames_of_one_session_wait_on_its_shard_queue_in_order(
    camera: Any, real_broker: Any, settings: Any
) -> None:
    # given two shards and a running session on each
    settings.INFERENCE_SHARDS = 2
    device, token = camera
    sessions = session_per_shard(token, 2)
    # when three frames of each session arrive, interleaved
    for sequence in (1, 2, 3):
        for shard, session_id in sessions.items():
            frame = 10 * shard + sequence
            assert post_frame(token, session_id, frame, read_face(PHOTO)).status_code == 202
    # then each shard queue holds exactly its session's frames, in arrival order
    for shard in sessions:
        expected = [f"{device.pk}:{10 * shard + s}" for s in (1, 2, 3)]
        assert queued_frames(real_broker, shard_queue(shard)) == expected
    # and nothing waits on the shared queue
    assert real_broker.llen(INFERENCE_QUEUE) == 0


def test_consecutive_session_ids_spread_evenly_over_the_shards(settings: Any) -> None:
    # given three shards
    settings.INFERENCE_SHARDS = 3
    # when nine consecutive sessions are routed (twice, to see that the choice is stable)
    first = [inference_queue(session_id) for session_id in range(101, 110)]
    again = [inference_queue(session_id) for session_id in range(101, 110)]
    # then every shard gets three sessions, always the same ones
    assert first == again
    assert sorted(Counter(first).values()) == [3, 3, 3]
    assert set(first) == {shard_queue(k) for k in range(3)}


def test_a_full_shard_refuses_only_its_own_sessions(
    camera: Any, real_broker: Any, settings: Any
) -> None:
    # given a total bound of 4 over two shards (2 per shard) and shard 0 holding 2 frames
    settings.INFERENCE_SHARDS = 2
    settings.INGEST_MAX_QUEUE = 4
    token = camera[1]
    sessions = session_per_shard(token, 2)
    real_broker.rpush(shard_queue(0), b"waiting-1", b"waiting-2")
    # when a frame arrives for a session of each shard
    full = post_frame(token, sessions[0], 1, read_face(PHOTO))
    other = post_frame(token, sessions[1], 2, read_face(PHOTO))
    # then shard 0's session gets 429 and shard 1's is queued
    assert full.status_code == 429
    assert full.json()["error"] == "queue_full"
    assert other.status_code == 202
    assert real_broker.llen(shard_queue(0)) == 2
    assert real_broker.llen(shard_queue(1)) == 1


def test_default_mode_queues_every_session_on_the_single_inference_queue(
    camera: Any, real_broker: Any, settings: Any
) -> None:
    # given the default setting and two sessions with different ids
    assert settings.INFERENCE_SHARDS == 0
    device, token = camera
    first, second = (int(start_session(token).json()["session_id"]) for _ in range(2))
    # when a frame of each arrives
    assert post_frame(token, first, 1, read_face(PHOTO)).status_code == 202
    assert post_frame(token, second, 2, read_face(PHOTO)).status_code == 202
    # then both wait on `inference` and no shard queue exists
    assert queued_frames(real_broker, INFERENCE_QUEUE) == [f"{device.pk}:1", f"{device.pk}:2"]
    assert list(real_broker.scan_iter(f"{INFERENCE_QUEUE}.*")) == []
