"""Head pose from the 5 landmarks drives the "engaged" proxy and the pose part of face quality."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from inference.face_geometry import FRONTAL_NOSE_DROP, estimate_pose
from inference.face_quality import score_quality
from tests.inference.conftest import load_bgr


def landmarks(nose_shift: float = 0.0, nose_drop: float = FRONTAL_NOSE_DROP) -> np.ndarray:
    """dlib 5-point layout (two corners per eye, nose base) for eyes 100 px apart.

    ``nose_shift``/``nose_drop``: nose base position along / below the eye line, in
    inter-ocular distances.
    """
    points = [(-0.7, 0.0), (-0.3, 0.0), (0.3, 0.0), (0.7, 0.0), (nose_shift, nose_drop)]
    return np.array(points) * 100.0 + (320.0, 240.0)


def rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = points.mean(axis=0)
    return (points - centre) @ rot.T + centre


def test_frontal_landmarks_give_zero_pose() -> None:
    # given landmarks of a face looking at the camera / when the pose is estimated
    pose = estimate_pose(landmarks())
    # then yaw, pitch and roll are all about zero
    assert abs(pose.yaw) < 0.5 and abs(pose.pitch) < 0.5 and abs(pose.roll) < 0.5


def test_sideways_nose_gives_signed_yaw() -> None:
    # given the nose base shifted 0.3 inter-ocular distances right, then left
    right, left = estimate_pose(landmarks(0.3)), estimate_pose(landmarks(-0.3))
    # then yaw has that sign and the size the anthropometric nose depth implies (~29 degrees)
    assert right.yaw == pytest.approx(28.6, abs=1.0)
    assert left.yaw == pytest.approx(-28.6, abs=1.0)


def test_nose_closer_to_the_eyes_reads_as_face_tilted_up() -> None:
    # given a nose base higher than the frontal baseline (head tilted back)
    pose = estimate_pose(landmarks(nose_drop=FRONTAL_NOSE_DROP - 0.3))
    # then pitch is clearly negative (positive = tilted down) and yaw stays near zero
    assert pose.pitch < -20 and abs(pose.yaw) < 0.5


def test_in_plane_rotation_changes_roll_only() -> None:
    # given a turned face, then the same landmarks rotated 25 degrees in the image plane
    base = landmarks(0.2, FRONTAL_NOSE_DROP + 0.1)
    plain, rolled = estimate_pose(base), estimate_pose(rotate(base, 25.0))
    # then yaw and pitch are unchanged and roll reports the rotation
    assert rolled.yaw == pytest.approx(plain.yaw, abs=1e-6)
    assert rolled.pitch == pytest.approx(plain.pitch, abs=1e-6)
    assert rolled.roll == pytest.approx(plain.roll + 25.0, abs=1e-6)


def test_turned_head_lowers_quality_to_zero_at_sixty_degrees() -> None:
    # given a sharp 80 px face seen frontally, at 30 degrees and at 60+ degrees of yaw
    chip = np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)
    box = (0, 0, 80, 80)
    scores = [
        score_quality(box, chip, estimate_pose(landmarks(shift)), 0.9).score
        for shift in (0.0, math.tan(math.radians(30)) * 0.55, 1.0)
    ]
    # then quality drops with the turn and a profile is worthless
    assert scores[0] > scores[1] > scores[2] == 0.0


def test_frontal_enrolled_face_is_engaged(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given a frontal photo of an enrolled person / when analysed
    (face,) = engine.analyze_frame(load_bgr(faces_dir / "scenes/obama_1080p.jpg"), gallery).faces
    # then the pose is within the proxy's limits and the face counts as engaged
    assert face.yaw is not None and face.pitch is not None
    assert abs(face.yaw) <= engine.config.engaged_max_yaw
    assert abs(face.pitch) <= engine.config.engaged_max_pitch
    assert face.engaged is True


def test_not_assessable_face_has_no_engagement(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given a face blurred below the quality bar / when analysed
    image = cv2.GaussianBlur(load_bgr(faces_dir / "scenes/obama_240p.jpg"), (0, 0), 3.0)
    faces = engine.analyze_frame(image, gallery).faces
    # then no engagement verdict or angle is guessed for it
    assert faces and all(f.engaged is None and f.yaw is None for f in faces)
