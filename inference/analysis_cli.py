"""``python -m inference analyze PATH [--enroll DIR] [--detector NAME] [--json]``.

PATH is an image or a video file; DIR has one sub-folder of enrollment photos per identity.
Nothing is written: results go to stdout only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from inference.engine import EngineConfig, FaceEngine, FrameResult
from inference.identity import Gallery
from inference.image_io import decode_image
from wellbeing_capture.video_sources import VIDEO_SUFFIXES, iter_frames

ENROLL_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def build_gallery(engine: FaceEngine, directory: Path | None) -> Gallery:
    """Embed every photo under DIR/<identity>/; EnrollmentPhotoError names the bad file."""
    if directory is None:
        return Gallery.from_templates({})
    if not directory.is_dir():
        raise ValueError(f"--enroll {directory} is not a directory")
    templates: dict[str, list[Any]] = {}
    for photo in sorted(directory.glob("*/*")):
        if photo.suffix.lower() in ENROLL_SUFFIXES:
            image = decode_image(photo.read_bytes())
            try:
                vector = engine.embed_enrollment_photo(image)
            except ValueError as exc:
                raise type(exc)(f"{photo}: {exc}") from exc
            templates.setdefault(photo.parent.name, []).append(vector)
    return Gallery.from_templates(templates)


def frame_to_json(result: FrameResult, timestamp: float | None = None) -> dict[str, Any]:
    faces = []
    for face in result.faces:
        item = asdict(face)
        item["box"] = list(face.box)
        item["track"] = item.pop("track_id")
        faces.append(item)
    out: dict[str, Any] = {
        "faces": faces,
        "unknown_count": result.unknown_count,
        "not_assessable_count": result.not_assessable_count,
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }
    if timestamp is not None:
        out["timestamp"] = round(timestamp, 3)
    return out


def run_analyze(
    path: Path, enroll: Path | None, detector: str, sample_fps: float, max_frames: int | None
) -> list[dict[str, Any]]:
    """Analyze an image (one entry) or a video (one entry per processed frame)."""
    is_video = path.suffix.lower() in VIDEO_SUFFIXES
    # A bad image is refused before the models are loaded (seconds), not after.
    image = None if is_video else decode_image(path.read_bytes())
    engine = FaceEngine(EngineConfig(detector=detector, classify_unknown=True))
    gallery = build_gallery(engine, enroll)
    if image is not None:
        return [frame_to_json(engine.analyze_frame(image, gallery))]
    tracker = engine.new_tracker()
    return [
        frame_to_json(engine.analyze_frame(frame, gallery, tracker, ts), ts)
        for ts, frame in iter_frames(str(path), sample_fps, max_frames)
    ]


def print_analysis(frames: list[dict[str, Any]], as_json: bool, is_video: bool) -> None:
    if as_json:
        print(json.dumps({"frames": frames} if is_video else frames[0], sort_keys=True))
        return
    for frame in frames:
        head = f"t={frame['timestamp']:.2f}s " if "timestamp" in frame else ""
        print(head + f"{len(frame['faces'])} face(s) {frame['timings_ms'].get('total', 0):.0f} ms")
        for f in frame["faces"]:
            what = f["emotion"] if f["assessable"] else "not assessable"
            print(f"  box={f['box']} q={f['quality']:.2f} {f['identity'] or 'unknown'} {what}")
