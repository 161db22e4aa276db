"""Session-affine routing with real processes: daphne with INFERENCE_SHARDS=2 and one
concurrency-1 Celery worker per shard queue, on a private Redis (the shared one is untouched)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum

from bench.localstack import (
    ThrowawayRedis,
    free_port,
    service_env,
    start_server,
    start_worker,
    stop_process,
)
from capture.models import ClassSession, MinuteAggregate, Observation, ProcessedFrame
from tests.capture.conftest import read_face, wait_until
from tests.conftest import database_url
from wellbeing_capture.client import Frame, ServerClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHARDS = 2
FRAMES = 3
SCENE = "scenes/obama+biden.jpg"


@dataclass
class ShardStack:
    server_url: str
    logs: list[Path]  # one per shard worker


@pytest.fixture
def shard_stack(tmp_path: Path, camera: Any) -> Iterator[ShardStack]:
    redis = ThrowawayRedis(persistent=False)
    redis.start()
    # one camera sends both sessions' frames back to back: lift the per-device rate limit
    env = service_env(
        database_url(), redis.url(0), INFERENCE_SHARDS=str(SHARDS), INGEST_MAX_FPS_PER_DEVICE="1000"
    )
    port = free_port()
    procs = [start_server(env, port, (tmp_path / "server.log").open("ab"))]
    logs = [tmp_path / f"worker-{k}.log" for k in range(SHARDS)]
    for k, log in enumerate(logs):
        procs.append(start_worker(env, log.open("ab"), 1, queues=f"inference.{k}"))
    try:
        yield ShardStack(f"http://127.0.0.1:{port}", logs)
    finally:
        for proc in procs:
            stop_process(proc)
        redis.close()


def tasks_received(log: Path) -> int:
    """Frame tasks the worker received: turns (fair scheduling) or FIFO frame tasks."""
    return len(re.findall(r"process_(?:next_)?frame_task\[[^\]]+\] received", log.read_text()))


def test_each_shard_worker_processes_its_sessions_frames_once_in_order(
    shard_stack: ShardStack, camera: Any, obama: Any, biden: Any
) -> None:
    # given a session on each shard (ids rise by one, so two tries suffice per shard)
    client = ServerClient(shard_stack.server_url, camera[1])
    sessions: dict[int, int] = {}
    while len(sessions) < SHARDS:
        session_id = int(client.start_session()["session_id"])
        sessions.setdefault(session_id % SHARDS, session_id)
    # when three frames of each arrive, interleaved
    scene = read_face(SCENE)
    for sequence in range(1, FRAMES + 1):
        for shard, session_id in sessions.items():
            frame = Frame(100 * shard + sequence, time.time(), scene)
            assert client.send_frame(session_id, frame)[0] == 202
    # then every frame is stored once, aggregates and counters agree with the raw rows
    total = SHARDS * FRAMES
    wait_until(lambda: ProcessedFrame.objects.count() == total, 120, "all frames stored")
    time.sleep(2)  # a second processing of any frame would show by now
    for session_id in sessions.values():
        assert ProcessedFrame.objects.filter(session_id=session_id).count() == FRAMES
        observations = Observation.objects.filter(session_id=session_id).count()
        minute_n = MinuteAggregate.objects.filter(session_id=session_id).aggregate(s=Sum("n"))
        assert observations == minute_n["s"] == 2 * FRAMES
        assert ClassSession.objects.get(pk=session_id).frames_processed == FRAMES
        # and in the order they were captured (one process, one task at a time)
        stored = ProcessedFrame.objects.filter(session_id=session_id).order_by("processed_at")
        sequences = [int(f.frame_id.split(":")[1]) for f in stored]
        assert sequences == sorted(sequences)
    # and each shard's worker received exactly its own session's frames
    assert [tasks_received(log) for log in shard_stack.logs] == [FRAMES] * SHARDS
