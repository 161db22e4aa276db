"""Reliability with real processes: daphne, a Celery worker, a private Redis, a PostgreSQL proxy.

The machine's shared PostgreSQL and Redis are never stopped: the worker reaches PostgreSQL
through a TCP proxy this test controls, and the broker is a throwaway redis-server.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from bench.localstack import (
    TcpProxy,
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
from wellbeing_capture.client import Frame, ServerClient, ServerUnavailableError

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCENE = "scenes/obama+biden.jpg"
VISIBILITY_TIMEOUT_S = 3


@dataclass
class Stack:
    redis: ThrowawayRedis
    proxy: TcpProxy
    env: dict[str, str]
    worker_env: dict[str, str]
    server_url: str
    logs: Path
    workers: list[Any]

    def start_worker(self) -> Any:
        log = (self.logs / f"worker{len(self.workers)}.log").open("ab")
        proc = start_worker(self.worker_env, log, 1, VISIBILITY_TIMEOUT_S)
        self.workers.append(proc)
        return proc


@pytest.fixture
def stack(tmp_path: Path, camera: Any) -> Iterator[Stack]:
    redis = ThrowawayRedis(persistent=True)
    redis.start()
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.start()
    env = service_env(database_url(), redis.url(0))
    worker_env = service_env(database_url(proxy.port), redis.url(0))
    port = free_port()
    server = start_server(env, port, (tmp_path / "server.log").open("ab"))
    made = Stack(redis, proxy, env, worker_env, f"http://127.0.0.1:{port}", tmp_path, [])
    try:
        yield made
    finally:
        for proc in [server, *made.workers]:
            stop_process(proc)
        proxy.stop()
        redis.close()


def send(client: ServerClient, session_id: int, sequence: int) -> int:
    status, _ = client.send_frame(session_id, Frame(sequence, time.time(), read_face(SCENE)))
    return status


def assert_counted_once(session_id: int, frames: int) -> None:
    """Each frame stored once, and aggregates and counters agree with the raw rows."""
    assert ProcessedFrame.objects.filter(session_id=session_id).count() == frames
    observations = Observation.objects.filter(session_id=session_id).count()
    recognised = ProcessedFrame.objects.aggregate(s=Sum("recognised"))["s"]
    minute_n = MinuteAggregate.objects.filter(session_id=session_id).aggregate(s=Sum("n"))["s"]
    assert observations == recognised == minute_n == 2 * frames
    assert ClassSession.objects.get(pk=session_id).frames_processed == frames


def test_worker_killed_mid_task_processes_the_frame_exactly_once(
    stack: Stack, camera: Any, obama: Any, biden: Any
) -> None:
    client = ServerClient(stack.server_url, camera[1])
    session_id = int(client.start_session()["session_id"])
    # given a worker that is inside a task, blocked on the database (proxy stalled)
    stack.proxy.set_mode("stall")
    worker = stack.start_worker()
    assert send(client, session_id, 1) == 202
    wait_until(lambda: stack.proxy.connections > 0, 60, "the worker to reach the database")
    # when it is killed with SIGKILL, the database comes back and a new worker starts
    stop_process(worker, signal.SIGKILL)
    stack.proxy.set_mode("pass")
    stack.start_worker()
    # then the unacknowledged task is redelivered and the frame stored exactly once
    wait_until(lambda: ProcessedFrame.objects.count() == 1, 90, "the redelivered frame")
    time.sleep(VISIBILITY_TIMEOUT_S + 2)  # a second redelivery would land by now
    assert_counted_once(session_id, 1)


def test_database_outage_is_retried_and_nothing_is_lost(
    stack: Stack, camera: Any, obama: Any, biden: Any
) -> None:
    client = ServerClient(stack.server_url, camera[1])
    session_id = int(client.start_session()["session_id"])
    # given the worker's database is down
    stack.proxy.set_mode("refuse")
    stack.start_worker()
    # when frames arrive
    for sequence in (1, 2, 3):
        assert send(client, session_id, sequence) == 202
    wait_until(lambda: stack.proxy.connections >= 2, 60, "the worker to try and retry")
    assert ProcessedFrame.objects.count() == 0
    # then once the database is back every frame is stored, each once
    stack.proxy.set_mode("pass")
    wait_until(lambda: ProcessedFrame.objects.count() == 3, 90, "the retried frames")
    assert_counted_once(session_id, 3)


def test_redis_restart_gives_503_then_resent_frames_count_once(
    stack: Stack, camera: Any, obama: Any, biden: Any
) -> None:
    client = ServerClient(stack.server_url, camera[1])
    session_id = int(client.start_session()["session_id"])
    stack.start_worker()
    assert send(client, session_id, 1) == 202
    # given Redis is stopped while frames keep arriving
    stack.redis.stop()
    with pytest.raises(ServerUnavailableError, match="503"):
        send(client, session_id, 2)
    # when it comes back and the client re-sends frame 2 and sends the rest (1 again too)
    stack.redis.start()
    statuses: dict[int, int] = {}
    for sequence in (2, 1, 3):
        wait_until(partial(_try_send, client, session_id, sequence, statuses), 30, "ingest")
    # then frame 1 is "already received", 2 and 3 are queued, and each is counted once
    assert statuses == {2: 202, 1: 200, 3: 202}
    wait_until(lambda: ProcessedFrame.objects.count() == 3, 90, "all frames stored")
    time.sleep(2)
    assert_counted_once(session_id, 3)


def _try_send(
    client: ServerClient, session_id: int, sequence: int, statuses: dict[int, int]
) -> bool:
    try:
        statuses[sequence] = send(client, session_id, sequence)
    except ServerUnavailableError:
        return False
    return True
