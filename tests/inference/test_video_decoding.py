"""Frames of the sample clip decode with timestamps and can be tracked end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inference.conftest import REPO_ROOT
from wellbeing_capture.video_sources import VideoOpenError, iter_frames


def test_sample_clip_frames_decode(faces_dir: Path) -> None:
    # given the shared clip / when read at 5 frames per second
    clip = faces_dir / "video/short_hamilton_clip.mp4"
    frames = list(iter_frames(str(clip), sample_fps=5.0))
    # then frames are BGR images with strictly increasing timestamps
    assert len(frames) >= 5
    stamps = [t for t, _ in frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(f.ndim == 3 and f.shape[2] == 3 for _, f in frames)


def test_missing_video_is_a_clear_error(tmp_path: Path) -> None:
    # given a path that does not exist / then VideoOpenError
    with pytest.raises(VideoOpenError):
        list(iter_frames(str(tmp_path / "absent.mp4")))


def test_analyze_cli_on_video_reports_tracked_frames(faces_dir: Path) -> None:
    # given the clip and the enrollment folder
    clip = faces_dir / "video/short_hamilton_clip.mp4"
    cmd = [sys.executable, "-m", "inference", "analyze", str(clip), "--json"]
    cmd += ["--enroll", str(faces_dir / "enroll"), "--sample-fps", "5"]
    # when analysed through the command line
    out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    frames = json.loads(out.stdout.strip().splitlines()[-1])["frames"]
    # then every frame has a timestamp, every face a track id, and a face seen in
    # consecutive frames keeps one track id across at least three of them
    assert len(frames) >= 20 and all("timestamp" in frame for frame in frames)
    tracks = [f["track"] for frame in frames for f in frame["faces"]]
    assert tracks and all(isinstance(t, int) for t in tracks)
    assert max(tracks.count(t) for t in set(tracks)) >= 3
