"""The live class view in a real browser, served by daphne, updated when a frame is processed.

The frame goes through the real pipeline: ingest API, frame store in Redis, the inference task
(eager in the test process), storage, then capture.live pushes the class summary through the
Redis channel layer to the consumer in daphne, which sends it to the page's WebSocket.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from bench.localstack import start_worker, stop_process
from capture.devices import create_device
from capture.live import session_group
from consent.actions import enroll_face
from inference.model_manifest import CANONICAL_CLASSES
from tests.browser.conftest import screenshot, serve_with_daphne, sign_in
from tests.conftest import database_url
from tests.factories import grant_consent, make_guardian, make_notice, make_participant
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization, StaffMember
from wellbeing_capture.client import Frame, ServerClient

pytestmark = [pytest.mark.browser, pytest.mark.slow]
FACES = Path(settings.BASE_DIR).parent / "shared" / "testdata" / "faces"
PASSWORD = "pw-correct-horse"


@pytest.fixture
def daphne_url(transactional_db: Any, tmp_path: Path) -> Iterator[str]:
    """A daphne process serving the project (HTTP + WebSocket) on the test database."""
    yield from serve_with_daphne(tmp_path, "tests.browser.daphne_settings")


def enroll(org: Organization, classroom: Classroom, name: str, identity: str) -> None:
    person = make_participant(org, name, classroom=classroom)
    grant_consent(person, make_guardian(person))
    photo = (FACES / "enroll" / identity / "1.jpg").read_bytes()
    enroll_face(AuditContext.system(org), person, [photo])


def forget_stale_subscribers(session_id: int) -> None:
    """Drop the Channels group left by earlier runs: daphne killed at teardown never leaves its
    groups, and ids restart at 1 in every test database."""
    redis.Redis.from_url(settings.REDIS_URL).delete(f"asgi:group:{session_group(session_id)}")


def send_frame(token: str, session_id: int, image: bytes) -> None:
    """POST one frame to the ingest API from a plain thread (no event loop there, so the
    pipeline's async_to_sync push to the channel layer works as in a worker)."""
    outcome: dict[str, Any] = {}

    def post() -> None:
        headers: dict[str, Any] = {
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "HTTP_X_SESSION_ID": str(session_id),
            # Database ids restart in every test run but Redis remembers queued frame ids
            # (device:sequence): a fresh sequence keeps this frame from being a "duplicate".
            "HTTP_X_SEQUENCE": str(time.time_ns() // 1_000_000 % 2_000_000_000),
            "HTTP_X_CAPTURED_AT": str(time.time()),
        }
        response = Client().generic(
            "POST", "/api/ingest/frames", data=image, content_type="image/jpeg", **headers
        )
        outcome["status"] = response.status_code
        # This thread's connection would otherwise keep the test database from being dropped.
        connections.close_all()

    worker = threading.Thread(target=post)
    worker.start()
    worker.join(timeout=120)
    assert outcome.get("status") in (200, 201, 202), outcome


def test_teacher_watches_the_live_view_update_when_a_frame_is_processed(
    daphne_url: str, page: Any, school: Organization, classroom: Classroom, teacher: StaffMember
) -> None:
    if not (FACES / "manifest.json").is_file():
        pytest.skip(f"shared test faces not found at {FACES} (../shared/testdata/faces)")
    # given two consented, enrolled students in 7B, a group minimum of 2 and a running session
    school.min_group_size = 2
    school.save()
    make_notice(school)
    enroll(school, classroom, "Obama Student", "obama")
    enroll(school, classroom, "Biden Student", "biden")
    _, token = create_device(AuditContext.system(school), "7B camera", classroom=classroom)
    started = Client().post(
        "/api/ingest/sessions", data={}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    session_id = int(started.json()["session_id"])
    forget_stale_subscribers(session_id)
    # when the class teacher opens the live view
    sign_in(page, daphne_url, teacher.user.username, PASSWORD)
    page.goto(daphne_url + reverse("dashboard:live", args=[session_id]))
    page.wait_for_selector("#live-connection[data-state=open]", timeout=15_000)
    assert page.locator("#live-view").get_attribute("data-updates") == "0"
    screenshot(page, "05-live-before")
    # and the camera sends a frame with both students that the pipeline processes
    send_frame(token, session_id, (FACES / "scenes" / "obama+biden.jpg").read_bytes())
    # then the page updates over the WebSocket with class-level numbers only
    from playwright.sync_api import expect

    expect(page.locator("#live-view")).to_have_attribute(
        "data-updates", re.compile(r"^[1-9]\d*$"), timeout=15_000
    )
    assert page.locator("#live-recognised").inner_text() == "2"
    counts = [
        page.locator(f"#live-count-{name}").inner_text()
        for name in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    ]
    assert sum(int(c) for c in counts) == 2
    assert page.locator("#live-suppressed").is_hidden()
    body = page.content()
    assert "Obama Student" not in body and "Biden Student" not in body
    screenshot(page, "06-live-after")


@pytest.fixture
def daphne_and_worker(transactional_db: Any, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """daphne queueing inference tasks on the broker, and a function that starts one Celery
    worker process (same settings, test database) to run them; the worker is stopped after."""
    settings_module = "tests.browser.worker_settings"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    workers: list[Any] = []

    def start() -> None:
        log = (tmp_path / "worker.log").open("ab")
        workers.append(start_worker(env, log, concurrency=1))

    try:
        for url in serve_with_daphne(tmp_path, settings_module):
            yield url, start
    finally:
        for proc in workers:
            stop_process(proc)


def start_class(school: Organization, classroom: Classroom) -> tuple[str, int]:
    """Two consented, enrolled students in 7B, a group minimum of 2, a running session."""
    school.min_group_size = 2
    school.save()
    make_notice(school)
    enroll(school, classroom, "Obama Student", "obama")
    enroll(school, classroom, "Biden Student", "biden")
    _, token = create_device(AuditContext.system(school), "7B camera", classroom=classroom)
    started = Client().post(
        "/api/ingest/sessions", data={}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    session_id = int(started.json()["session_id"])
    forget_stale_subscribers(session_id)
    return token, session_id


def test_counselor_watches_the_live_view_update_when_the_worker_processes_a_frame(
    daphne_and_worker: tuple[str, Any],
    page: Any,
    school: Organization,
    classroom: Classroom,
    counselor: StaffMember,
    tmp_path: Path,
) -> None:
    if not (FACES / "manifest.json").is_file():
        pytest.skip(f"shared test faces not found at {FACES} (../shared/testdata/faces)")
    from playwright.sync_api import expect

    base_url, start_worker_process = daphne_and_worker
    # given a running class session and a counselor watching its live view
    token, session_id = start_class(school, classroom)
    sign_in(page, base_url, counselor.user.username, PASSWORD)
    page.goto(base_url + reverse("dashboard:live", args=[session_id]))
    page.wait_for_selector("#live-connection[data-state=open]", timeout=15_000)
    # when the camera sends a frame to the server while no worker runs
    camera = ServerClient(base_url, token, timeout=30)
    frame = Frame(time.time_ns() // 1_000_000 % 2_000_000_000, time.time(), scene_photo())
    status, _ = camera.send_frame(session_id, frame)
    assert status in (200, 201, 202)
    # then it waits on the broker and the page has nothing new
    page.wait_for_timeout(2_000)
    assert page.locator("#live-view").get_attribute("data-updates") == "0"
    # when a worker process starts and processes the queued frame
    start_worker_process()
    # then the page updates over the WebSocket with class-level numbers only
    expect(page.locator("#live-view")).to_have_attribute(
        "data-updates", re.compile(r"^[1-9]\d*$"), timeout=90_000
    )
    assert page.locator("#live-recognised").inner_text() == "2"
    counts = [page.locator(f"#live-count-{name}").inner_text() for name in CANONICAL_CLASSES]
    assert sum(int(c) for c in counts) == 2
    assert "Obama Student" not in page.content()
    # and the socket stayed up while it waited (no consumer crash in the server log)
    assert "Exception inside application" not in (tmp_path / "daphne.log").read_text()
    screenshot(page, "11-live-after-worker")


def scene_photo() -> bytes:
    return (FACES / "scenes" / "obama+biden.jpg").read_bytes()
