"""Bad uploads each get a clear 4xx and leave no trace (no row, no Redis key, nothing queued)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from capture.devices import create_device, revoke_device
from tests.capture.conftest import (
    assert_no_trace,
    png_header_announcing,
    post_frame,
    read_face,
    start_session,
)
from tests.factories import make_organization
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Jurisdiction

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id(camera: Any) -> int:
    return int(start_session(camera[1]).json()["session_id"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"hello, this is not an image", "image/jpeg", 422, "bad_image"),
        (b"", "image/jpeg", 422, "bad_image"),
        (b"GIF89a....", "image/gif", 415, "unsupported_type"),
        (b"\x89PNG\r\n\x1a\n", "image/png", 422, "bad_image"),
    ],
)
def test_garbage_bodies_are_refused(
    camera: Any,
    session_id: int,
    redis_client: Any,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    # given a running session, when garbage is posted as a frame
    response = post_frame(camera[1], session_id, 1, body, content_type)
    # then a clear 4xx names the problem and nothing is kept
    assert response.status_code == status
    assert response.json()["error"] == code
    assert_no_trace(redis_client)


def test_truncated_jpeg_is_refused(camera: Any, session_id: int, redis_client: Any) -> None:
    # given a real JPEG cut in half
    data = read_face("scenes/two_people.jpg")
    # when it is posted
    response = post_frame(camera[1], session_id, 1, data[: len(data) // 2])
    # then it is refused as truncated
    assert response.status_code == 422
    assert "end" in response.json()["detail"]
    assert_no_trace(redis_client)


def test_png_declared_as_jpeg_is_refused(camera: Any, session_id: int, redis_client: Any) -> None:
    response = post_frame(camera[1], session_id, 1, read_face("scenes/rgba_32bit.png"))
    assert response.status_code == 422
    assert_no_trace(redis_client)


def test_too_many_bytes_is_refused(
    camera: Any, session_id: int, redis_client: Any, settings: Any
) -> None:
    # given a byte limit smaller than the frame
    settings.MAX_UPLOAD_BYTES = 1000
    # when the frame is posted
    response = post_frame(camera[1], session_id, 1, read_face("scenes/two_people.jpg"))
    # then 413 and no trace
    assert response.status_code == 413
    assert_no_trace(redis_client)


def test_pixel_bomb_is_refused_from_its_header(
    camera: Any, session_id: int, redis_client: Any
) -> None:
    # given a 70-byte PNG announcing 10000 x 10000 pixels (limit: 40 million)
    bomb = png_header_announcing(10_000, 10_000)
    # when posted
    response = post_frame(camera[1], session_id, 1, bomb, "image/png")
    # then refused without decoding
    assert response.status_code == 422
    assert "pixels" in response.json()["detail"]
    assert_no_trace(redis_client)


@pytest.mark.parametrize("token", ["", "wbd_wrong-token"])
def test_wrong_token_is_refused(
    camera: Any, session_id: int, redis_client: Any, token: str
) -> None:
    response = post_frame(token, session_id, 1, read_face("scenes/two_people.jpg"))
    assert response.status_code == 401
    assert response.json()["error"] == "bad_token"
    assert_no_trace(redis_client)


def test_revoked_device_is_refused(camera: Any, session_id: int, redis_client: Any) -> None:
    # given a device revoked after its session started
    device, token = camera
    revoke_device(AuditContext.system(device.organization), device)
    # when it sends a frame
    response = post_frame(token, session_id, 1, read_face("scenes/two_people.jpg"))
    # then the token is refused with the reason
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert_no_trace(redis_client)


def test_ended_session_is_refused(camera: Any, session_id: int, redis_client: Any) -> None:
    # given the session was ended
    from django.test import Client

    Client().post(
        f"/api/ingest/sessions/{session_id}/end", HTTP_AUTHORIZATION=f"Bearer {camera[1]}"
    )
    # when a frame arrives for it
    response = post_frame(camera[1], session_id, 1, read_face("scenes/two_people.jpg"))
    # then 409 and no trace
    assert response.status_code == 409
    assert response.json()["error"] == "session_not_running"
    assert_no_trace(redis_client)


def test_other_classrooms_session_is_unknown(
    camera: Any, session_id: int, redis_client: Any
) -> None:
    # given a camera of another classroom of the same school
    device = camera[0]
    other_room = Classroom.objects.create(organization=device.organization, name="8C")
    _, other_token = create_device(
        AuditContext.system(device.organization), "8C", classroom=other_room
    )
    # when it posts into 7B's session
    response = post_frame(other_token, session_id, 1, read_face("scenes/two_people.jpg"))
    # then the session does not exist for it
    assert response.status_code == 404
    assert_no_trace(redis_client)


@pytest.mark.parametrize(
    ("sequence", "captured_at"),
    [("abc", None), ("1", "yesterday"), ("1", str(time.time() - 86400)), ("-5", None)],
)
def test_bad_frame_headers_are_refused(
    camera: Any, session_id: int, redis_client: Any, sequence: str, captured_at: str | None
) -> None:
    response = post_frame(
        camera[1],
        session_id,
        sequence,
        read_face("scenes/two_people.jpg"),
        captured_at=None,
        **({"HTTP_X_CAPTURED_AT": captured_at} if captured_at else {}),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_headers"
    assert_no_trace(redis_client)


def test_eu_school_without_basis_cannot_start(redis_client: Any, db: Any) -> None:
    # given an EU school with no medical/safety basis or DPIA recorded
    school = make_organization("Escola", jurisdiction=Jurisdiction.EU, timezone="Europe/Lisbon")
    room = Classroom.objects.create(organization=school, name="5A")
    _, token = create_device(AuditContext.system(school), "5A camera", classroom=room)
    # when its camera starts a session
    response = start_session(token)
    # then 403 with the AI Act reason, and no session exists
    assert response.status_code == 403
    assert "AI Act" in response.json()["detail"]
    assert not room.sessions.exists()


def test_a_device_over_its_frame_rate_gets_429(
    camera: Any, session_id: int, redis_client: Any, settings: Any
) -> None:
    # given a limit of 2 frames per second per device
    settings.INGEST_MAX_FPS_PER_DEVICE = 2
    photo = read_face("scenes/obama_240p.jpg")
    time.sleep(1 - time.time() % 1)  # start at the beginning of a second
    # when 6 frames are sent as fast as possible
    sent: list[tuple[int, int, Any]] = []
    for sequence in range(6):
        second = int(time.time())
        response = post_frame(camera[1], session_id, sequence, photo)
        # A request that crossed a second boundary is counted by the server in either second;
        # on a loaded machine that happens, so it is left out of the per-second tally.
        crossed = int(time.time()) != second
        sent.append((-1 if crossed else second, response.status_code, response))
    # then no second admits more than 2 frames, and the excess gets 429 with Retry-After
    for second in {s for s, _, _ in sent} - {-1}:
        assert sum(1 for s, code, _ in sent if s == second and code == 202) <= 2
    refused = [r for _, code, r in sent if code == 429]
    assert refused, [code for _, code, _ in sent]
    assert refused[0]["Retry-After"] == "1" and refused[0].json()["error"] == "rate_limited"
