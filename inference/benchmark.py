"""``python -m inference bench``: per-stage timings and peak memory on this machine's CPU.

Synthetic classrooms from the real photos in ../shared/testdata/faces (inference.classroom_scene):
30 heads of 60-90 px on a 1280x720 canvas (``frame30_*``), and 30 heads of 24-48 px (back rows)
on a 1920x1080 canvas (``frame30_small_*``, ``detect_ms_1080p``); and single faces (one face per
frame, one chip per model call). Figures are medians of ``repeats``-scaled runs; the JSON object
is the last line printed. Real group photos are measured by ``python -m bench.classroom``.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.analysis_cli import build_gallery
from inference.classroom_scene import compose_classroom, crop_faces
from inference.engine import EngineConfig, FaceEngine
from inference.face_geometry import extract_chips
from inference.identity import CHIP_PADDING, CHIP_SIZE, Gallery
from inference.image_io import decode_image


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process's own address space, in MiB.

    Reads VmHWM from /proc: ``ru_maxrss`` survives exec, so a benchmark started by a large
    parent (pytest after hundreds of tests) would report the parent's peak instead of its own.
    Falls back to ``ru_maxrss`` where /proc is missing.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def load_scenes(faces_dir: Path) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(JPEG bytes, decoded BGR) of the synthetic 30-face 1280x720 classroom frame, and a
    1280x720 frame with a single face from the same photos."""
    photos = sorted(faces_dir.glob("enroll/*/*")) + sorted(faces_dir.glob("probe/*"))
    heads = crop_faces([decode_image(p.read_bytes()) for p in photos])
    frame, _ = compose_classroom(heads)
    single, _ = compose_classroom(heads, n_faces=1)
    _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return jpeg.tobytes(), decode_image(jpeg.tobytes()), single


def load_small_scene(faces_dir: Path) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The 1920x1080 back-row frame: 30 heads whose faces are 24-48 px wide, and head boxes."""
    photos = sorted(faces_dir.glob("enroll/*/*")) + sorted(faces_dir.glob("probe/*"))
    heads = crop_faces([decode_image(p.read_bytes()) for p in photos])
    frame, boxes = compose_classroom(heads, size=(1920, 1080), face_px=(24, 48), seed=1)
    _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return decode_image(jpeg.tobytes()), boxes


def small_frame_figures(
    engine: FaceEngine, gallery: Gallery, faces_dir: Path, repeats: int
) -> dict[str, Any]:
    """Detection alone and whole frames, tracked and not, on the 1080p back-row frame."""
    frame, heads = load_small_scene(faces_dir)
    rgb = np.ascontiguousarray(frame[:, :, ::-1])
    first = engine.analyze_frame(frame, gallery)
    tracker = engine.new_tracker()
    clock = iter(float(i) * 0.2 for i in range(1, 10_000))
    engine.analyze_frame(frame, gallery, tracker, timestamp=next(clock))
    return {
        "detect_ms_1080p": round(median_ms(lambda: engine.detector.detect(rgb), repeats), 1),
        "frame30_small_untracked_ms": round(
            median_ms(lambda: engine.analyze_frame(frame, gallery), repeats), 1
        ),
        "frame30_small_tracked_ms": round(
            median_ms(lambda: engine.analyze_frame(frame, gallery, tracker, next(clock)), repeats),
            1,
        ),
        "frame30_small_faces_detected": len(first.faces),
        "frame30_small_faces_named": sum(1 for f in first.faces if f.identity is not None),
        "frame30_small_heads": len(heads),
    }


def single_face_figures(
    engine: FaceEngine, gallery: Gallery, frame: np.ndarray, repeats: int
) -> dict[str, float]:
    """Milliseconds for one face: a whole 1-face frame, and each model on one chip."""
    rgb = np.ascontiguousarray(frame[:, :, ::-1])
    face = engine._find_faces(rgb)[0]
    (chip,) = extract_chips(rgb, [face.shape], CHIP_SIZE, CHIP_PADDING)
    return {
        "frame1_untracked_ms": round(
            median_ms(lambda: engine.analyze_frame(frame, gallery), repeats), 1
        ),
        "embed_ms_single_face": round(
            median_ms(lambda: engine.embedder.embed_chips([chip]), repeats), 2
        ),
        "classify_ms_single_face": round(
            median_ms(lambda: engine.classifier.classify([face.emotion_chip]), repeats * 4), 3
        ),
    }


def bench_engine(
    engine: FaceEngine, faces_dir: Path, jpeg: bytes, frame: np.ndarray, repeats: int = 5
) -> dict:
    """Timings of one engine configuration (see module doc)."""
    gallery = build_gallery(engine, faces_dir / "enroll")
    untracked = engine.analyze_frame(frame, gallery)
    chips = [f.emotion_chip for f in engine._find_faces(np.ascontiguousarray(frame[:, :, ::-1]))]
    batch = (chips * 2)[:32]
    tracker = engine.new_tracker()
    engine.analyze_frame(frame, gallery, tracker, timestamp=0.0)
    clock = iter(float(i) * 0.1 for i in range(1, 1000))
    stages = {f"untracked_{k}_ms": round(v, 2) for k, v in untracked.timings_ms.items()}
    tracked = engine.analyze_frame(frame, gallery, tracker, timestamp=next(clock))
    stages |= {f"tracked_{k}_ms": round(v, 2) for k, v in tracked.timings_ms.items()}
    return stages | {
        "faces_detected": len(untracked.faces),
        "decode_ms": round(median_ms(lambda: decode_image(jpeg), repeats), 2),
        "classify_ms_per_face": round(
            median_ms(lambda: engine.classifier.classify(batch), repeats * 4) / 32, 3
        ),
        "frame30_untracked_ms": round(
            median_ms(lambda: engine.analyze_frame(frame, gallery), max(1, repeats * 3 // 5)), 1
        ),
        "frame30_tracked_ms": round(
            median_ms(lambda: engine.analyze_frame(frame, gallery, tracker, next(clock)), repeats),
            1,
        ),
        "embed_ms_per_face": round(untracked.timings_ms["embed"] / max(len(untracked.faces), 1), 2),
    }


def run_bench(
    faces_dir: Path, detector: str = "rfb", repeats: int = 5, embedder_precision: str = "auto"
) -> dict[str, Any]:
    """One-thread figures (the targets) plus all-thread figures and peak RSS.

    ``repeats`` scales how many timed runs each median takes (1 = a quick smoke run).
    """
    jpeg, frame, single = load_scenes(faces_dir)
    config = EngineConfig(detector=detector, threads=1, embedder_precision=embedder_precision)
    engine = FaceEngine(config)
    result: dict[str, Any] = {
        "detector": detector,
        "embedder_precision": getattr(engine.embedder, "precision", "fp32"),
        "frame": "1280x720, 30 faces",
    }
    result |= bench_engine(engine, faces_dir, jpeg, frame, repeats)
    gallery = build_gallery(engine, faces_dir / "enroll")
    result |= single_face_figures(engine, gallery, single, repeats)
    result |= small_frame_figures(engine, gallery, faces_dir, repeats)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)  # one engine, all models loaded
    del engine
    all_threads = FaceEngine(replace(config, threads=0))
    multi = bench_engine(all_threads, faces_dir, jpeg, frame, repeats)
    keys = ("classify_ms_per_face", "frame30_tracked_ms", "frame30_untracked_ms")
    result |= {f"all_threads_{k}": multi[k] for k in keys}
    return result
