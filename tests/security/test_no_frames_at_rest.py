"""After a demo run (real capture client -> live server -> worker code), no frame or face crop
exists anywhere: not in any database column, not in the logs, not in Redis, not on disk."""

from __future__ import annotations

import base64
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps
from django.db import models

from capture.demo import seed_demo_school
from capture.demo_stream import stream_demo, wait_for_server
from capture.models import Observation
from tests.capture.conftest import require_faces

# JPEG and PNG signatures, raw and as they start in base64.
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n", b"/9j/", b"iVBORw0KGgo")


def _contains_image(value: Any) -> bool:
    if value is None:
        return False
    data = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
    return any(signature in data for signature in SIGNATURES)


def _database_hits() -> list[str]:
    hits = []
    kinds = (models.BinaryField, models.TextField, models.CharField, models.JSONField)
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, kinds)]
        for row in model._default_manager.values_list("pk", *fields).iterator():
            hits += [f"{model._meta.label}#{row[0]}" for v in row[1:] if _contains_image(v)]
    return hits


def _files_with_images(folder: Path, since: float) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if "test-artifacts" in path.parts:  # the browser tests' own screenshots
            continue
        try:
            fresh = path.is_file() and path.stat().st_mtime >= since
            if fresh and path.stat().st_size < 5e7 and _contains_image(path.read_bytes()[:4096]):
                found.append(str(path))
        except OSError:
            continue
    return found


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + repr(record.args) + str(record.exc_info))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_run_leaves_no_frame_anywhere(live_server: Any, tmp_path: Path, settings: Any) -> None:
    faces = require_faces()
    settings.DATA_DIR = tmp_path
    started = tmp_path.stat().st_mtime - 1
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        # given the demo school, when the demo stream sends the scene photos to a live server
        seed_demo_school(faces)
        assert wait_for_server(live_server.url, 10)
        assert stream_demo(live_server.url, faces_dir=_scenes_only(faces, tmp_path)) == 0
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert Observation.objects.exists()  # the run really processed faces
    # then no database column holds an image
    assert _database_hits() == []
    # and no log line carries image bytes or their base64
    assert [line[:120] for line in handler.lines if _contains_image(line)] == []
    # (the frame tasks ran: fair-scheduling turns, or FIFO frame tasks with it off)
    assert any(re.search(r"process_(next_)?frame_task", line) for line in handler.lines)
    # and Redis keeps no frame (bytes are deleted once processed)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert list(client.scan_iter("wb:frame:*")) == []
    assert [k for k in client.scan_iter("*") if _contains_image(_redis_value(client, k))] == []
    # and nothing with an image was written to disk during the run
    assert _files_with_images(Path(tempfile.gettempdir()), started) == []
    assert _files_with_images(Path(settings.BASE_DIR), started) == []


def _redis_value(client: redis.Redis, key: bytes) -> bytes:
    try:
        value = client.get(key)
    except redis.ResponseError:  # not a string key (lists, sets)
        return b""
    return value.encode() if isinstance(value, str) else value or b""


def _scenes_only(faces: Path, tmp_path: Path) -> Path:
    target = tmp_path / "faces"
    (target / "scenes").mkdir(parents=True)
    for photo in (faces / "scenes").iterdir():
        (target / "scenes" / photo.name).symlink_to(photo)
    return target


def test_signatures_are_detected() -> None:
    # the scan itself must be able to fail: a JPEG, a PNG and their base64 forms are found
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 20
    assert _contains_image(jpeg) and _contains_image(base64.b64encode(jpeg).decode())
    assert _contains_image(b"\x89PNG\r\n\x1a\n") and not _contains_image("sad 0.3")
