"""Redis unreachable: ingest answers 503 with Retry-After, never 500, and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from capture.models import ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session
from tests.local_services import free_port

pytestmark = pytest.mark.django_db


def test_ingest_answers_503_when_redis_is_down(camera: Any, settings: Any) -> None:
    # given a running session, then the frame store pointed at a port where nothing listens
    session_id = start_session(camera[1]).json()["session_id"]
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    # when a good frame arrives
    response = post_frame(camera[1], session_id, 1, read_face("scenes/two_people.jpg"))
    # then 503 with Retry-After, and nothing was processed
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert int(response["Retry-After"]) > 0
    assert not ProcessedFrame.objects.exists()
