"""Fuzz the ingest endpoint with malformed and adversarial images.

Seeded random mutations of a real photo (bit flips, truncation, spliced headers), polyglots,
decompression bombs and wrong content types. Every answer must be a 2xx or a clear 4xx (never
5xx), and nothing of a refused upload may be kept (no database row, no Redis key).
"""

from __future__ import annotations

import io
import random
import zlib
from typing import Any

import pytest
from PIL import Image

from capture.models import Observation, ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session

pytestmark = pytest.mark.django_db

CASES = 160


def _png(width: int, height: int, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def _jpeg_claiming(width: int, height: int, base: bytes) -> bytes:
    """The photo with its SOF0/SOF2 frame header rewritten to claim another size."""
    data = bytearray(base)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _mutations(photo: bytes, rng: random.Random) -> list[tuple[str, bytes, str]]:
    cases: list[tuple[str, bytes, str]] = [
        ("zip polyglot", photo + b"PK\x03\x04" + rng.randbytes(200), "image/jpeg"),
        ("html polyglot", b"\xff\xd8\xff\xe0<html><script>x</script>" + photo[4:], "image/jpeg"),
        ("svg as jpeg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/jpeg"),
        ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ("html", b"<html></html>", "text/html"),
        ("octet", photo, "application/octet-stream"),
        ("png bomb", _png(60000, 60000), "image/png"),
        ("png zero size", _png(0, 0), "image/png"),
        ("jpeg bomb", _jpeg_claiming(65000, 65000, photo), "image/jpeg"),
        ("jpeg zero size", _jpeg_claiming(0, 0, photo), "image/jpeg"),
        ("16-bit png", _png(64, 64, "I;16"), "image/png"),
        ("only soi", b"\xff\xd8", "image/jpeg"),
    ]
    for i in range(CASES):
        data = bytearray(photo)
        kind = i % 4
        if kind == 0:  # flip random bytes
            for _ in range(rng.randint(1, 40)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # truncate anywhere
            data = data[: rng.randrange(1, len(data))]
        elif kind == 2:  # corrupt the headers only
            for _ in range(rng.randint(1, 10)):
                data[rng.randrange(min(600, len(data)))] = rng.randrange(256)
        else:  # random bytes behind a JPEG magic number
            data = bytearray(b"\xff\xd8\xff" + rng.randbytes(rng.randint(0, 5000)))
        cases.append((f"mutation {i}", bytes(data), "image/jpeg"))
    return cases


def test_adversarial_uploads_never_cause_a_server_error(camera: Any, redis_client: Any) -> None:
    # given a running session and a real photo to mutate (seeded, so failures reproduce)
    session = int(start_session(camera[1]).json()["session_id"])
    photo = read_face("scenes/obama_240p.jpg")
    rng = random.Random(20261122)
    refused, accepted = 0, 0
    for sequence, (name, body, content_type) in enumerate(_mutations(photo, rng), start=1):
        frames_before = ProcessedFrame.objects.count()
        # when each adversarial body is posted as a frame
        response = post_frame(camera[1], session, sequence, body, content_type)
        # then the answer is never a server error
        assert response.status_code < 500, (name, response.status_code, response.content[:200])
        if response.status_code >= 400:
            refused += 1
            # and a refused upload leaves nothing behind
            assert "error" in response.json(), name
            assert ProcessedFrame.objects.count() == frames_before, name
        else:
            accepted += 1
    assert list(redis_client.scan_iter("wb:frame:*")) == []
    assert Observation.objects.count() == 0  # nobody is enrolled in this session's class
    assert refused >= 60 and refused + accepted == CASES + 12
    print(f"ingest fuzz: {refused + accepted} uploads, {refused} refused, {accepted} accepted")
