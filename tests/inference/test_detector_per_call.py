"""A caller picks the detector per frame (a classroom's setting); the default stays the config's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.classroom_scene import compose_classroom, crop_faces
from inference.detection import DETECTORS, HogDetector, UnknownDetectorError
from tests.inference.conftest import load_bgr


@pytest.fixture(scope="module")
def back_row_frame(faces_dir: Path) -> np.ndarray:
    """12 enrolled faces 44-52 px wide on a 1280x720 frame: below plain HOG's ~70 px window."""
    photos = sorted(faces_dir.glob("enroll/obama/*")) + sorted(faces_dir.glob("enroll/biden/*"))
    frame, _ = compose_classroom(crop_faces([load_bgr(p) for p in photos]), 12, face_px=(44, 52))
    return frame


def test_small_faces_are_found_by_the_default_and_missed_by_hog(
    engine: Any, gallery: Any, back_row_frame: np.ndarray
) -> None:
    # when the same back-row frame is analysed with the default (rfb) and with hog for this call
    default = engine.analyze_frame(back_row_frame, gallery)
    hog = engine.analyze_frame(back_row_frame, gallery, detector="hog")
    # then hog finds (almost) none, the default finds and names every face
    assert len(hog.faces) <= 2
    assert len(default.faces) == 12
    assert {f.identity for f in default.faces} == {"obama", "biden"}
    assert all(f.assessable and f.emotion is not None for f in default.faces)
    # and the engine's own default detector is untouched by the per-call choice
    assert engine.detector_for(None) is engine.detector
    assert engine.detector.name == "rfb" and engine.config.detector == "rfb"


def test_default_call_equals_naming_the_configured_detector(
    engine: Any, gallery: Any, faces_dir: Path
) -> None:
    # given a scene with three faces
    image = load_bgr(faces_dir / "scenes/obama+biden.jpg")
    # when analysed without a detector and with the configured one named
    implicit = engine.analyze_frame(image, gallery)
    explicit = engine.analyze_frame(image, gallery, detector=engine.config.detector)
    # then both give the same boxes and identities
    assert [(f.box, f.identity) for f in implicit.faces] == [
        (f.box, f.identity) for f in explicit.faces
    ]


def test_unknown_detector_is_refused_with_the_valid_names(engine: Any, gallery: Any) -> None:
    # given any frame / when a detector name that does not exist is asked for
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    with pytest.raises(UnknownDetectorError) as refused:
        engine.analyze_frame(frame, gallery, detector="yunet")
    # then the error is a ValueError naming the choices
    assert isinstance(refused.value, ValueError)
    for name in ("rfb", "hog", "hog2x", "cnn"):
        assert repr(name) in str(refused.value)


def test_detectors_are_created_once_per_name_even_from_many_threads(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a detector whose construction is slow (as loading a model file is) and counted
    created: list[HogDetector] = []

    def slow_factory(threads: int) -> HogDetector:
        time.sleep(0.05)
        created.append(HogDetector(upsample=1))
        return created[-1]

    monkeypatch.setitem(DETECTORS, "slow-test-detector", slow_factory)
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        barrier.wait()
        seen.append(engine.detector_for("slow-test-detector"))

    # when eight threads ask for it at the same moment
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then it was built once, every thread got that instance, and later calls reuse it
    assert len(created) == 1 and len(seen) == 8
    assert all(d is created[0] for d in seen)
    assert engine.detector_for("slow-test-detector") is created[0]
