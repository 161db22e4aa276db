"""No acknowledged frame is lost when Redis restarts without persistence (issue 15).

Real processes: daphne, a Celery worker, a throwaway redis-server WITHOUT persistence (frame
bytes must never reach a persistence file), the real capture client's sender with its
confirmations. Frames are acknowledged (202) while no worker runs, Redis is restarted (queued
tasks and frame bytes are gone), a worker starts: the client learns which frames the server
lost, sends them again, and every frame is stored exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.localstack import (
    ThrowawayRedis,
    free_port,
    service_env,
    start_server,
    start_worker,
    stop_process,
)
from capture.models import ProcessedFrame
from tests.capture.conftest import read_face, wait_until
from tests.conftest import database_url
from wellbeing_capture.client import (
    CaptureStats,
    Confirmations,
    Frame,
    FrameBuffer,
    ServerClient,
    send_buffered,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCENE = "scenes/obama+biden.jpg"
FRAMES = 6


@pytest.fixture
def volatile_stack(tmp_path: Path) -> Iterator[tuple[str, ThrowawayRedis, dict[str, str]]]:
    redis = ThrowawayRedis(persistent=False)
    redis.start()
    env = service_env(database_url(), redis.url(0))
    port = free_port()
    server = start_server(env, port, (tmp_path / "server.log").open("ab"))
    try:
        yield f"http://127.0.0.1:{port}", redis, env
    finally:
        stop_process(server)
        redis.close()


def test_frames_acknowledged_before_a_redis_restart_are_resent_and_stored_once(
    volatile_stack: tuple[str, ThrowawayRedis, dict[str, str]],
    camera: Any,
    obama: Any,
    biden: Any,
    tmp_path: Path,
) -> None:
    url, redis, env = volatile_stack
    client = ServerClient(url, camera[1])
    session_id = int(client.start_session()["session_id"])
    buffer, stats = FrameBuffer(FRAMES * 2), CaptureStats()
    confirmations = Confirmations(FRAMES * 2, interval_s=1.0, settle_s=120.0)
    sender = threading.Thread(
        target=send_buffered,
        args=(client, session_id, buffer, stats),
        kwargs={"confirmations": confirmations},
        daemon=True,
    )
    # given frames the server acknowledged while no worker was running
    photo = read_face(SCENE)
    for sequence in range(1, FRAMES + 1):
        buffer.put(Frame(sequence, time.time(), photo))
    buffer.close()
    sender.start()
    wait_until(lambda: stats.acked == FRAMES, 60, "every frame acknowledged")
    # when Redis restarts without persistence (queued tasks and frame bytes are gone) and a
    # worker starts
    redis.stop()
    redis.start()
    worker = start_worker(env, (tmp_path / "worker.log").open("ab"))
    try:
        sender.join(180)
    finally:
        stop_process(worker)
    # then the client re-sent what the server lost, and every frame was stored exactly once
    assert not sender.is_alive(), "the client never got every frame confirmed"
    assert stats.resent >= FRAMES
    assert (stats.confirmed, stats.lost, len(confirmations.frames)) == (FRAMES, 0, 0)
    assert ProcessedFrame.objects.filter(session_id=session_id).count() == FRAMES
    assert obama.observations.filter(session_id=session_id).count() == FRAMES
    assert biden.observations.filter(session_id=session_id).count() == FRAMES
