"""The engine smooths each track as EngineConfig says, and restarts on a new identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from inference.engine import EngineConfig, FaceEngine
from tests.inference.conftest import load_bgr


def probs_vector(face: Any) -> np.ndarray:
    return np.array(list(face.probs.values()), dtype=np.float64)


@pytest.fixture(scope="module")
def two_frames(faces_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """One enrolled face, then the same face darker (other probabilities, same box)."""
    image = load_bgr(faces_dir / "scenes/obama_1080p.jpg")
    return image, cv2.convertScaleAbs(image, alpha=0.6, beta=-20)


def raw_probs(engine: FaceEngine, gallery: Any, image: np.ndarray) -> np.ndarray:
    """Unsmoothed probabilities of the single face (no tracker = no smoothing)."""
    (face,) = engine.analyze_frame(image, gallery).faces
    return probs_vector(face)


def test_default_engine_tracker_takes_the_rolling_mean(
    engine: FaceEngine, gallery: Any, two_frames: tuple[np.ndarray, np.ndarray]
) -> None:
    first, second = two_frames
    raw = [raw_probs(engine, gallery, img) for img in two_frames]
    assert not np.allclose(raw[0], raw[1], atol=1e-3)  # the two frames must differ
    # given the engine's own tracker (rolling mean over smoothing_window frames)
    tracker = engine.new_tracker()
    engine.analyze_frame(first, gallery, tracker, timestamp=0.0)
    # when the second frame of the same track arrives
    (face,) = engine.analyze_frame(second, gallery, tracker, timestamp=0.2).faces
    # then its probabilities are the mean of both frames'
    assert np.allclose(probs_vector(face), (raw[0] + raw[1]) / 2, atol=1e-5)


def test_ema_alpha_in_engine_config_reaches_the_tracker(
    gallery: Any, two_frames: tuple[np.ndarray, np.ndarray]
) -> None:
    # given an engine configured for exponential smoothing with alpha 0.25
    ema_engine = FaceEngine(EngineConfig(ema_alpha=0.25))
    first, second = two_frames
    raw = [raw_probs(ema_engine, gallery, img) for img in two_frames]
    tracker = ema_engine.new_tracker()
    ema_engine.analyze_frame(first, gallery, tracker, timestamp=0.0)
    # when the second frame arrives
    (face,) = ema_engine.analyze_frame(second, gallery, tracker, timestamp=0.2).faces
    # then the result is 0.25 * new + 0.75 * previous, not a rolling mean
    assert np.allclose(probs_vector(face), 0.25 * raw[1] + 0.75 * raw[0], atol=1e-5)


def test_identity_change_restarts_smoothing(
    engine: FaceEngine, gallery: Any, faces_dir: Path
) -> None:
    # given one seat (the same box) holding obama in one frame and biden in the next
    obama, biden = (
        seat_frame(load_bgr(faces_dir / f"enroll/{name}/1.jpg")) for name in ("obama", "biden")
    )
    tracker = engine.new_tracker(max_age=60.0)
    (first,) = engine.analyze_frame(obama, gallery, tracker, timestamp=0.0).faces
    # when the second frame is analysed on the same tracker
    (second,) = engine.analyze_frame(biden, gallery, tracker, timestamp=0.5).faces
    # then it is the same track, named from this frame, with only this frame's probabilities
    assert first.identity == "obama" and second.identity == "biden"
    assert second.track_id == first.track_id
    assert np.allclose(probs_vector(second), raw_probs(engine, gallery, biden), atol=1e-5)
    assert second.track_id is not None
    assert len(tracker.tracks[second.track_id].history) == 1


def seat_frame(photo: np.ndarray) -> np.ndarray:
    """The photo's face as a 160 px head in the same place of a 640x480 frame."""
    from inference.classroom_scene import crop_faces

    head = cv2.resize(crop_faces([photo])[0], (160, 160), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 170, dtype=np.uint8)
    frame[160:320, 240:400] = head
    return frame
