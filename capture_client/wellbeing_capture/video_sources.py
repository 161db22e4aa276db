"""Frames from video files, webcams (integer index) and RTSP/HTTP streams via OpenCV.

Frames stay in memory: nothing is written to disk (team rule "frames are never stored"). Part of
the capture client package (no Django); the server's `python -m inference` video commands read
videos through it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

# A decompression-bomb guard for announced frame sizes (40 MP, the server's image limit too).
MAX_FRAME_PIXELS = 40_000_000
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class VideoOpenError(ValueError):
    """The source could not be opened, yields no frames or announces oversized frames."""


def parse_source(source: str) -> str | int:
    """ "0" -> webcam 0; URLs and paths are passed through."""
    return int(source) if source.isdigit() else source


def iter_frames(
    source: str | int,
    sample_fps: float | None = None,
    max_frames: int | None = None,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (timestamp in seconds, BGR uint8 frame), keeping about ``sample_fps`` per second.

    Timestamps come from the container when it reports them, else from the frame index and
    the nominal rate. Raises VideoOpenError when nothing can be read, or when the source
    announces frames of more than ``max_pixels`` (the same bomb guard as for images).
    """
    if isinstance(source, str) and "://" not in source and not Path(source).is_file():
        raise VideoOpenError(f"no such video file: {source}")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise VideoOpenError(f"cannot open video source {source!r}")
    width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    if width * height > max_pixels:
        capture.release()
        raise VideoOpenError(f"video frames are {width:.0f}x{height:.0f}, over {max_pixels} pixels")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(fps / sample_fps)) if sample_fps else 1
    index = yielded = 0
    try:
        while max_frames is None or yielded < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                msec = capture.get(cv2.CAP_PROP_POS_MSEC)
                yield (msec / 1000.0 if msec > 0 else index / fps), frame
                yielded += 1
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise VideoOpenError(f"video source {source!r} yielded no frames")
