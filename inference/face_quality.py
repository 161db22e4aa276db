"""Face-quality score in 0..1 and the "not assessable" decision.

The score combines four factors, each mapped to 0..1, by geometric mean so that one very bad
factor (a 20 px face, a motion-blurred crop, a profile view) pulls the whole score down:

- size: shorter side of the face box, 0 at MIN_FACE_PX, 1 at GOOD_FACE_PX and above;
- sharpness: variance of the Laplacian of the 64x64 gray aligned chip, saturating at SHARP_VAR;
- pose: 1 when frontal, 0 at MAX_YAW degrees yaw or MAX_PITCH degrees pitch;
- detector confidence (0..1, 0.5 at the detector's decision boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.face_geometry import HeadPose

MIN_FACE_PX = 24
GOOD_FACE_PX = 64
SHARP_VAR = 250.0
MAX_YAW = 60.0
MAX_PITCH = 45.0


@dataclass(frozen=True)
class Quality:
    score: float
    size: float
    sharpness: float
    pose: float
    confidence: float


def measure_sharpness(gray_chip: np.ndarray) -> float:
    """Variance of the Laplacian of a uint8 gray chip (higher = sharper)."""
    return float(cv2.Laplacian(gray_chip, cv2.CV_64F).var())


def score_quality(
    box: tuple[int, int, int, int], gray_chip: np.ndarray, pose: HeadPose, confidence: float
) -> Quality:
    """Combine size, sharpness, pose and confidence into one 0..1 score (see module doc)."""
    side = min(box[2], box[3])
    size = float(np.clip((side - MIN_FACE_PX) / (GOOD_FACE_PX - MIN_FACE_PX), 0.0, 1.0))
    sharp = float(np.clip(measure_sharpness(gray_chip) / SHARP_VAR, 0.0, 1.0))
    frontal = 1.0 - max(abs(pose.yaw) / MAX_YAW, abs(pose.pitch) / MAX_PITCH)
    pose_f = float(np.clip(frontal, 0.0, 1.0))
    conf = float(np.clip(confidence, 0.0, 1.0))
    score = float(np.prod([size, sharp, pose_f, conf]) ** 0.25)
    return Quality(score=score, size=size, sharpness=sharp, pose=pose_f, confidence=conf)
