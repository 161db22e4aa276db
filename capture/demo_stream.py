"""The demo's capture loop: stream the shared photos and video to a running demo server.

`make demo` starts this beside the server, so a newcomer sees the whole product: frames sent,
faces attributed to consented demo participants only, their time series growing.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from consent.demo import demo_device_token, shared_faces_dir
from wellbeing_capture.client import main as capture_main


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
        code = capture_main([source, "--server", server, "--token", token, *extra])
        if code:
            return code
    return 0
