"""Request bodies (frames, enrollment photos) never touch the disk in the web server (issue 15).

daphne (Twisted) puts every body of 100,000 bytes or more, and every chunked body, in a
temporary file before the application sees it, and Django's ASGI handler spools bodies above
FILE_UPLOAD_MAX_MEMORY_SIZE. The server runs here as in production (daphne, DEBUG off) with an
audit hook (sys.addaudithook, installed by a sitecustomize module) that records every file the
process opens for writing and every temporary file it creates, while bodies of 0.1-10 MB arrive.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from django.conf import settings
from django.test import Client

from bench.localstack import free_port, service_env, start_server, stop_process
from consent.models import FaceTemplate
from tests.conftest import database_url
from tests.factories import grant_consent
from wellbeing.models import Guardian, Participant, StaffMember

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FILE_WRITE_WATCH = """
import os, sys
_log = os.open(os.environ["FILE_WRITE_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def _watch(event, args):
    if event == "open":
        path, mode, flags = args
        writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE)
        if writes:
            os.write(_log, f"open {path!r} {mode!r} {flags}\\n".encode())
    elif event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
        os.write(_log, f"{event} {args[0]!r}\\n".encode())
sys.addaudithook(_watch)
"""
BODY_SIZES = [100_000, 487_722, 2_000_000, 3_000_000, 10_000_000]


@pytest.fixture
def watched_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(FILE_WRITE_WATCH)
    writes = tmp_path / "writes.log"
    env = service_env(database_url(), settings.REDIS_URL)
    env.update(
        FILE_WRITE_LOG=str(writes),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join([str(hook_dir), env["PYTHONPATH"]]),
    )
    port = free_port()
    server = start_server(env, port, (tmp_path / "server.log").open("ab"))
    try:
        yield port, writes
    finally:
        stop_process(server)


def post(port: int, body: bytes, chunked: bool = False) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/octet-stream"}
    conn.request(
        "POST",
        "/api/ingest/frames/",
        body=iter([body]) if chunked else body,
        headers=headers,
        encode_chunked=chunked,
    )
    status = conn.getresponse().status
    conn.close()
    return status


def written_files(log: Path) -> list[str]:
    time.sleep(0.5)  # the server answered; its log lines are written before that
    return log.read_text().splitlines() if log.exists() else []


def test_frames_of_up_to_10_mb_are_never_written_to_a_file(
    watched_server: tuple[int, Path],
) -> None:
    port, log = watched_server
    before = written_files(log)
    # when bodies of 0.1-10 MB arrive, with a length and chunked
    statuses = [post(port, os.urandom(size)) for size in BODY_SIZES]
    statuses.append(post(port, os.urandom(1_000_000), chunked=True))
    # then each gets an HTTP answer from the application (not a server error) ...
    assert all(status < 500 for status in statuses), statuses
    # ... and the server process opened no file for writing and made no temporary file
    assert written_files(log)[len(before) :] == []


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    watched_server: tuple[int, Path],
) -> None:
    port, log = watched_server
    limit = min(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    # when a client announces a body over the limit and starts sending it
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /api/ingest/frames/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n"
    )
    sock.sendall(head.encode() + b"\0" * 65536)
    answer = sock.recv(4096).decode(errors="replace")
    sock.close()
    # then it is answered 413 at once, and nothing was written
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert written_files(log) == []


def test_a_chunked_body_over_the_limit_is_refused_and_kept_nowhere(
    watched_server: tuple[int, Path],
) -> None:
    port, log = watched_server
    limit = min(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    # when a chunked body (no Content-Length: its size is known only at the end) passes the limit
    status = post(port, bytes(limit + 1), chunked=True)
    # then the server answers 413 and wrote nothing
    assert status == 413
    assert written_files(log) == []


FACES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "faces"


def large_photos(count: int) -> list[bytes]:
    """``count`` JPEG photos of one face, each enlarged to about 17 MP (1-2 MB)."""
    face = cv2.imread(str(FACES / "enroll" / "obama" / "1.jpg"))
    if face is None:
        pytest.skip(f"shared face photos not found at {FACES}")
    big = cv2.resize(face, (face.shape[1] * 4, face.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    photos = []
    for quality in range(90, 90 - count, -1):
        ok, data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        photos.append(data.tobytes())
    return photos


def multipart(field: str, files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="photo{i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for i, data in enumerate(files)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def test_enrollment_photos_are_never_written_to_a_file(
    watched_server: tuple[int, Path],
    admin: StaffMember,
    student: Participant,
    guardian: Guardian,
    notice: object,
) -> None:
    # given a school admin signed in, and a student with face_template consent
    port, log = watched_server
    grant_consent(student, guardian)
    client = Client()
    client.force_login(admin.user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = "a" * 32
    photos = large_photos(5)
    body, boundary = multipart("photos", photos)
    # each photo alone is far over daphne's 100 KB spool limit
    assert min(map(len, photos)) > 1_000_000 and len(body) > 5_000_000
    before = written_files(log)
    # when the admin enrolls five 1-2 MB photos through the API, as the pages' form does
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST",
        f"/api/participants/{student.pk}/enroll/",
        body=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; "
            f"{settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
        },
    )
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    # then five templates are stored from photos decoded in the web process ...
    assert response.status == 201, answer[:300]
    assert FaceTemplate.objects.filter(participant=student).count() == 5
    # ... and the server opened no file for writing and made no temporary file on the way
    assert written_files(log)[len(before) :] == []
