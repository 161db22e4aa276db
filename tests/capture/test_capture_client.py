"""The capture client (wellbeing-capture) against the real ingest views on a live server.

The server runs in a thread of this process (Celery eager), with the real PostgreSQL and Redis;
a Redis outage is made by pointing the frame store at a port where nothing listens.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from capture.devices import revoke_device
from capture.models import ClassSession, ProcessedFrame, SessionStatus
from tests.capture.conftest import read_face, require_faces, wait_until
from tests.local_services import free_port
from wellbeing.actions import AuditContext
from wellbeing_capture.client import (
    CaptureStats,
    Frame,
    FrameBuffer,
    ServerClient,
    main,
    send_buffered,
)

pytestmark = pytest.mark.django_db(transaction=True)


def client_args(server: str, token: str, *extra: str) -> list[str]:
    """Command line streaming the shared scenes folder (one frame is read before starting)."""
    return [str(require_faces() / "scenes"), "--server", server, "--token", token, *extra]


def test_client_buffers_through_a_redis_outage_and_drops_the_oldest(
    live_server: Any, camera: Any, settings: Any
) -> None:
    # given a running session, a 3-frame buffer and Redis unreachable (ingest answers 503)
    device, token = camera
    client = ServerClient(live_server.url, token)
    session_id = int(client.start_session()["session_id"])
    redis_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    buffer, stats = FrameBuffer(capacity=3), CaptureStats()
    sender = threading.Thread(target=send_buffered, args=(client, session_id, buffer, stats))
    sender.start()
    photo = read_face("scenes/obama_240p.jpg")
    # when 5 frames are captured during the outage, then Redis comes back
    for sequence in range(1, 6):
        buffer.put(Frame(sequence, time.time(), photo))
    wait_until(lambda: stats.retries >= 2, 30, "the client to retry", every=0.1)
    assert stats.acked == 0
    settings.REDIS_URL = redis_url
    buffer.close()
    sender.join(60)
    # then the two oldest were dropped and counted, the other three re-sent and stored once
    assert not sender.is_alive()
    assert (buffer.dropped, stats.acked, stats.duplicates) == (2, 3, 0)
    stored = set(ProcessedFrame.objects.values_list("frame_id", flat=True))
    assert stored == {f"{device.pk}:{sequence}" for sequence in (3, 4, 5)}


def test_client_streams_a_folder_shows_the_notice_and_ends_the_session(
    live_server: Any, camera: Any, school: Any, capsys: Any
) -> None:
    # given the school's transparency notice
    school.transparency_notice = "Cameras in 7B measure engagement; ask the office for details."
    school.save(update_fields=["transparency_notice"])
    # when the client streams two images of the shared scenes folder
    code = main(client_args(live_server.url, camera[1], "--fps", "10", "--max-frames", "2"))
    # then it prints the notice and a status line, both frames are stored, the session ended
    out = capsys.readouterr().out
    assert code == 0
    assert school.transparency_notice in out
    assert "acked 2" in out and "dropped 0" in out and "latency" in out
    session = ClassSession.objects.get(device=camera[0])
    assert session.status == SessionStatus.ENDED
    assert ProcessedFrame.objects.filter(session=session).count() == 2


def test_revoked_token_is_a_clear_error(live_server: Any, camera: Any, capsys: Any) -> None:
    # given a revoked camera
    device, token = camera
    revoke_device(AuditContext.system(device.organization), device)
    # when the client starts
    code = main(client_args(live_server.url, token))
    # then exit code 3 and a message that names the token
    assert code == 3
    assert "token" in capsys.readouterr().err
    assert not ClassSession.objects.exists()


@pytest.mark.parametrize("state", ["unknown", "ended"])
def test_unknown_or_ended_session_is_a_clear_error(
    live_server: Any, camera: Any, capsys: Any, state: str
) -> None:
    # given a session id that does not exist, or a session that has ended
    session_id = 999_999
    if state == "ended":
        client = ServerClient(live_server.url, camera[1])
        session_id = int(client.start_session()["session_id"])
        client.end_session(session_id)
    # when the client is asked to join it
    code = main(client_args(live_server.url, camera[1], "--session", str(session_id)))
    # then exit code 4 and a message about the session; no frame was sent
    assert code == 4
    assert "session" in capsys.readouterr().err.lower()
    assert not ProcessedFrame.objects.exists()


def test_missing_camera_is_a_clear_error(live_server: Any, camera: Any, capsys: Any) -> None:
    # given no camera at index 9 on this machine
    # when the client is asked to read it
    code = main(["9", "--server", live_server.url, "--token", camera[1]])
    # then exit code 2 with a hint, and no session was started
    assert code == 2
    assert "camera" in capsys.readouterr().err
    assert not ClassSession.objects.exists()
