"""Fixtures of the pipeline tests: a classroom camera, consented and enrolled demo faces."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client

from consent.actions import enroll_face
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.actions import AuditContext, create_device
from wellbeing.models import CaptureDevice, Classroom, Organization, Participant

FACES = Path(settings.BASE_DIR).parent / "shared" / "testdata" / "faces"


def require_faces() -> Path:
    if not (FACES / "manifest.json").is_file():
        pytest.skip(f"shared test faces not found at {FACES} (../shared/testdata/faces)")
    return FACES


def read_face(relative: str) -> bytes:
    return (require_faces() / relative).read_bytes()


@pytest.fixture
def redis_client() -> Any:
    """The tests' Redis database, emptied of frame keys and queued tasks before each test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("wb:*"):
        client.delete(key)
    client.delete("inference")
    return client


@pytest.fixture
def camera(
    school: Organization, classroom: Classroom, redis_client: Any
) -> tuple[CaptureDevice, str]:
    """The 7B classroom camera and its plaintext token."""
    return create_device(AuditContext.system(school), "7B camera", classroom=classroom)


def enroll(participant: Participant, identity: str) -> None:
    photo = read_face(f"enroll/{identity}/1.jpg")
    enroll_face(AuditContext.system(participant.organization), participant, [photo])


@pytest.fixture
def obama(school: Organization, classroom: Classroom, notice: Any) -> Participant:
    """A 7B student with full consent whose enrolled face is Obama's."""
    person = make_participant(school, "Obama Student", classroom=classroom)
    grant_consent(person, make_guardian(person))
    enroll(person, "obama")
    return person


@pytest.fixture
def biden(school: Organization, classroom: Classroom, notice: Any) -> Participant:
    person = make_participant(school, "Biden Student", classroom=classroom)
    grant_consent(person, make_guardian(person))
    enroll(person, "biden")
    return person


def start_session(token: str, **body: Any) -> Any:
    return Client().post(
        "/api/ingest/sessions",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def post_frame(
    token: str,
    session_id: int | str,
    sequence: int | str,
    data: bytes,
    content_type: str = "image/jpeg",
    captured_at: float | None = None,
    **extra: Any,
) -> Any:
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_SESSION_ID": str(session_id),
        "HTTP_X_SEQUENCE": str(sequence),
        "HTTP_X_CAPTURED_AT": str(time.time() if captured_at is None else captured_at),
        **extra,
    }
    return Client().generic(
        "POST", "/api/ingest/frames", data=data, content_type=content_type, **headers
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` every ``every`` seconds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def database_url(port: int | None = None) -> str:
    """URL of the test database, for service processes (optionally through another port)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{port or db['PORT']}/{db['NAME']}"
