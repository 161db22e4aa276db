"""The frame reader takes webcams (an index) and network URLs as well as files, within limits."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from wellbeing_capture.video_sources import VideoOpenError, iter_frames, parse_source


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served_clip(tmp_path: Path, faces_dir: Path) -> Iterator[str]:
    """URL of a 10-frame 10 fps MJPEG clip served over HTTP on 127.0.0.1 (a network camera)."""
    frames = [f for _, f in iter_frames(str(faces_dir / "video/short_hamilton_clip.mp4"))][:10]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(
        str(tmp_path / "cam.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (width, height)
    )
    for frame in frames:
        writer.write(frame)
    writer.release()
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cam.avi"
    server.shutdown()


def test_source_strings_are_parsed() -> None:
    # given a webcam index, a stream URL and a file path / then only the index becomes an int
    assert parse_source("0") == 0 and parse_source("2") == 2
    assert parse_source("rtsp://cam.local:554/stream1") == "rtsp://cam.local:554/stream1"
    assert parse_source("clips/room 12.mp4") == "clips/room 12.mp4"


def test_network_stream_is_read_and_sampled(served_clip: str) -> None:
    # given a 10 fps stream over HTTP / when read at 5 frames per second
    frames = list(iter_frames(parse_source(served_clip), sample_fps=5.0))
    # then every other frame arrives, in order, with stream timestamps
    assert [round(t, 2) for t, _ in frames] == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert all(f.ndim == 3 and f.shape[2] == 3 for _, f in frames)


def test_unreachable_stream_is_a_clear_error() -> None:
    # given an RTSP URL where nothing listens / then VideoOpenError, not a hang or a crash
    with pytest.raises(VideoOpenError):
        list(iter_frames("rtsp://127.0.0.1:9/none", max_frames=1))


def test_oversized_video_frames_are_refused_before_decoding(faces_dir: Path) -> None:
    clip = str(faces_dir / "video/short_hamilton_clip.mp4")
    # given the 640x360 clip and a pixel limit just below its frame size
    # when read / then VideoOpenError from the announced size, before any frame is decoded
    with pytest.raises(VideoOpenError, match="over 230399 pixels"):
        next(iter_frames(clip, max_pixels=640 * 360 - 1))
    assert next(iter_frames(clip, max_pixels=640 * 360))[1].shape == (360, 640, 3)
