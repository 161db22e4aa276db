"""The demo's capture loop: stream the shared photos and video to a running demo server.

`make demo` starts this beside the server, so a newcomer sees the whole product: frames sent,
faces attributed to consented demo participants only, their time series growing.

``stream_classroom`` is the live part: one running session of the demo classroom for as long
as the demo runs (until Ctrl-C, or ``stop_after_s``), whose frames are "class photos" composed
in memory from the shared scene photos, so all five demo people are in every frame and the live
view can show its numbers (the demo school's group size is 3, the lowest allowed). Nothing is
written to disk: the photos are read, tiled and JPEG-encoded in memory, as the client does.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from capture.demo import demo_device_token, shared_faces_dir
from wellbeing_capture.client import (
    CaptureStats,
    FrameBuffer,
    ServerClient,
    ServerUnavailableError,
    produce_frames,
    send_buffered,
)
from wellbeing_capture.client import main as capture_main

# Tiles of the demo "class photo": together the five enrolled demo people, each tile once.
CLASS_PHOTO_TILES = (
    "scenes/two_people.jpg",
    "scenes/kit_harington+rose_leslie.jpg",
    "probe/alex_lacamoire_1.jpg",
)
TILE_HEIGHT = 480


def wait_for_server(url: str, timeout_s: float = 60.0) -> bool:
    """Poll ``url``/healthz until it answers 200 or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def demo_sources(faces_dir: Path) -> list[tuple[str, list[str]]]:
    """(source, extra client arguments) to stream: the scene photos, then the sample video."""
    sources = []
    if (faces_dir / "scenes").is_dir():
        sources.append((str(faces_dir / "scenes"), ["--fps", "1"]))
    video = faces_dir / "video" / "short_hamilton_clip.mp4"
    if video.is_file():
        sources.append((str(video), ["--fps", "2", "--max-frames", "20"]))
    return sources


def stream_demo(server: str, faces_dir: Path | None = None) -> int:
    """Stream every demo source once; returns the first non-zero client exit code, or 0."""
    sources = demo_sources(faces_dir or shared_faces_dir())
    if not sources:
        print("demo_stream: ../shared/testdata/faces is absent; nothing to stream.")
        return 0
    token = demo_device_token()
    for source, extra in sources:
        print(f"demo_stream: streaming {source}")
        code: int = capture_main([source, "--server", server, "--token", token, *extra])
        if code:
            return code
    return 0


def class_photo_tiles(faces_dir: Path) -> list[Any]:
    """The tiles, scaled to one height (BGR arrays); empty when a photo is missing."""
    import cv2

    tiles = []
    for relative in CLASS_PHOTO_TILES:
        image = cv2.imread(str(faces_dir / relative))
        if image is None:
            return []
        scale = TILE_HEIGHT / image.shape[0]
        tiles.append(cv2.resize(image, (round(image.shape[1] * scale), TILE_HEIGHT)))
    return tiles


def class_photos(tiles: list[Any], stop: threading.Event) -> Iterator[Any]:
    """Side-by-side mosaics of the tiles, their order rotating each frame, until ``stop``."""
    import numpy as np

    for turn in itertools.count():
        if stop.is_set():
            return
        shift = turn % len(tiles)
        yield np.hstack(tiles[shift:] + tiles[:shift])


def stream_classroom(
    server: str, faces_dir: Path, fps: float = 0.5, stop_after_s: float | None = None
) -> CaptureStats:
    """Stream class photos into one session of the demo classroom until Ctrl-C or
    ``stop_after_s``; the session is ended on the way out. Raises CaptureClientError
    subclasses as the client does (token refused, capture blocked)."""
    tiles = class_photo_tiles(faces_dir)
    if not tiles:
        return CaptureStats()
    client = ServerClient(server, demo_device_token())
    session_id = int(client.start_session()["session_id"])
    stop, buffer, stats = threading.Event(), FrameBuffer(int(30 * fps) or 1), CaptureStats()
    errors: list[Exception] = []
    producer = threading.Thread(
        target=produce_frames,
        args=(class_photos(tiles, stop), buffer, fps, 85, errors),
        daemon=True,
    )
    producer.start()
    # A daemon, cancelled on the way out: a waiting timer would keep the process alive after
    # Ctrl-C until --minutes had passed.
    timer = threading.Timer(stop_after_s or 0.0, stop.set)
    timer.daemon = True
    if stop_after_s is not None:
        timer.start()
    try:
        send_buffered(client, session_id, buffer, stats)
    finally:
        timer.cancel()
        stop.set()
        buffer.close()
        # The server may have gone first (Ctrl-C stops both): then the session stays running.
        with contextlib.suppress(ServerUnavailableError, OSError):
            client.end_session(session_id)
    return stats
