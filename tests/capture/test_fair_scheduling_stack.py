"""Fair use of the workers with real processes (issue 15): daphne and one concurrency-1 Celery
worker on a private Redis. A hostile device of one school sends expensive 4K frames at its rate
limit while a normal camera of another school sends one frame a second; the normal school's
frames must still be stored within a bound, and the hostile device's backlog stays bounded
(its surplus is refused with 429 and Retry-After)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import pytest

from bench.localstack import (
    ThrowawayRedis,
    free_port,
    service_env,
    start_server,
    start_worker,
    stop_process,
)
from capture.devices import create_device
from capture.models import ProcessedFrame
from inference.classroom_scene import compose_classroom, crop_faces
from inference.image_io import decode_image
from tests.capture.conftest import read_face, require_faces, wait_until
from tests.conftest import database_url
from tests.factories import make_classroom
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization
from wellbeing_capture.client import Frame, ServerClient, ServerUnavailableError

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECONDS = 20
HOSTILE_FPS = 5  # the default INGEST_MAX_FPS_PER_DEVICE
# The normal school's frames: two faces, a fraction of a second of worker time, so one school
# alone fits in the worker (a 30-face 720p frame takes ~1 s here: the worker alone could not
# keep up with one such camera, fair or not).
NORMAL_SCENE = "scenes/obama_240p.jpg"
# Stored within this many seconds of capture (p95 of the normal school's frames). The issue's
# target is 2 s on a production machine; this shared 2-core machine (the worker, daphne,
# PostgreSQL and other people's jobs) is allowed a margin, still far below the FIFO queue.
NORMAL_P95_BOUND_S = 6.0
# Acknowledged hostile frames not yet stored, at any sample: the per-device cap plus the
# frame in the worker's hands and one admitted while it was counted.
HOSTILE_BACKLOG_BOUND = 10 + 2


@dataclass
class Stream:
    """What one device sent: capture time of each acknowledged frame, refusals (429)."""

    client: ServerClient
    session_id: int
    acked: dict[str, float] = field(default_factory=dict)  # frame id -> captured_at
    refused: int = 0


def scene_jpeg(size: tuple[int, int], seed: int) -> bytes:
    """A 30-head classroom frame of ``size``; 3840x2160 costs the worker several times a 720p."""
    faces = require_faces()
    photos = sorted(faces.glob("enroll/*/*")) + sorted(faces.glob("probe/*"))
    heads = crop_faces([decode_image(p.read_bytes()) for p in photos])
    face_px = (120, 180) if size[0] > 2000 else (60, 90)
    frame = compose_classroom(heads, size=size, face_px=face_px, seed=seed)[0]
    return bytes(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())


@pytest.fixture
def stack_url(tmp_path: Path, camera: Any) -> Iterator[str]:
    redis = ThrowawayRedis(persistent=False)
    redis.start()
    env = service_env(database_url(), redis.url(0))
    port = free_port()
    procs = [start_server(env, port, (tmp_path / "server.log").open("ab"))]
    procs.append(start_worker(env, (tmp_path / "worker.log").open("ab"), 1))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for proc in procs:
            stop_process(proc)
        redis.close()


def open_stream(url: str, org: Organization, classroom: Classroom, name: str) -> Stream:
    token = create_device(AuditContext.system(org), name, classroom=classroom)[1]
    client = ServerClient(url, token)
    return Stream(client, int(client.start_session()["session_id"]))


def send_for(stream: Stream, jpeg: bytes, fps: float, until: float) -> None:
    """Send ``jpeg`` at ``fps`` until ``until`` (monotonic); a 429 is counted, not retried."""
    sequence = 0
    while time.monotonic() < until:
        sequence += 1
        started = time.monotonic()
        frame = Frame(int(time.time() * 1000), time.time(), jpeg)
        try:
            _, body = stream.client.send_frame(stream.session_id, frame)
            stream.acked[str(body.get("frame_id", ""))] = frame.captured_at
        except ServerUnavailableError:
            stream.refused += 1
        time.sleep(max(0.0, 1.0 / fps - (time.monotonic() - started)))


def warm_up(stream: Stream, jpeg: bytes) -> None:
    """One frame through the stack, so the worker's start and model load are not measured."""
    frame = Frame(int(time.time() * 1000), time.time(), jpeg)
    frame_id = str(stream.client.send_frame(stream.session_id, frame)[1]["frame_id"])
    wait_until(
        lambda: ProcessedFrame.objects.filter(frame_id=frame_id).exists(), 180, "warm-up frame"
    )


def stored_at(stream: Stream) -> dict[str, float]:
    rows = ProcessedFrame.objects.filter(frame_id__in=list(stream.acked))
    return {row.frame_id: row.processed_at.timestamp() for row in rows}


def backlog(stream: Stream) -> int:
    return len(stream.acked) - len(stored_at(stream))


def test_a_hostile_device_cannot_delay_another_schools_frames(
    stack_url: str,
    school: Organization,
    classroom: Classroom,
    other_school: Organization,
) -> None:
    # given a hostile device of school A sending 4K 30-face frames at its rate limit, and a
    # normal camera of school B sending a frame every second
    hostile = open_stream(stack_url, school, classroom, "hostile laptop")
    normal = open_stream(stack_url, other_school, make_classroom(other_school, "9C"), "9C camera")
    expensive, ordinary = scene_jpeg((3840, 2160), 1), read_face(NORMAL_SCENE)
    warm_up(normal, ordinary)
    until = time.monotonic() + SECONDS
    # when both stream for SECONDS, the hostile device starting first
    senders = [
        threading.Thread(target=send_for, args=(hostile, expensive, HOSTILE_FPS, until)),
        threading.Thread(target=send_for, args=(normal, ordinary, 1.0, until)),
    ]
    senders[0].start()
    time.sleep(2)
    senders[1].start()
    backlogs = []
    while any(t.is_alive() for t in senders):
        backlogs.append(backlog(hostile))
        time.sleep(1)
    # then B's frames are stored within the bound (an unstored one counts as waiting until now)
    deadline = time.monotonic() + 30
    while len(stored_at(normal)) < len(normal.acked) and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = stored_at(normal)
    waits = sorted(stored.get(fid, time.time()) - at for fid, at in normal.acked.items())
    p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
    print(
        f"normal school: {len(normal.acked)} acked, {len(stored)} stored, e2e p95 {p95:.1f} s "
        f"(max {waits[-1]:.1f} s); hostile: {len(hostile.acked)} acked, {hostile.refused} "
        f"refused, backlog max {max(backlogs)}"
    )
    assert len(normal.acked) >= SECONDS - 4 and normal.refused == 0
    assert p95 <= NORMAL_P95_BOUND_S
    # and the hostile device's backlog stayed bounded: its surplus was refused
    assert max(backlogs) <= HOSTILE_BACKLOG_BOUND
    assert hostile.refused > 0
