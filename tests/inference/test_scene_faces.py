"""Every face in the shared scenes is found, enrolled people are named, others never are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from inference.engine import EnrollmentPhotoError
from tests.inference.conftest import load_bgr


def test_every_scene_face_is_detected(
    engine: Any, gallery: Any, faces_dir: Path, faces_manifest: dict
) -> None:
    for scene in faces_manifest["scenes"]:
        # given a scene photo with a known number of visible faces
        image = load_bgr(faces_dir / scene["file"])
        # when analysed
        result = engine.analyze_frame(image, gallery)
        # then exactly that many faces come back (the child in obama+biden.jpg included)
        assert len(result.faces) == scene["faces"], scene["file"]


def test_scene_identities_match_and_strangers_stay_unknown(
    engine: Any, gallery: Any, faces_dir: Path, faces_manifest: dict
) -> None:
    for scene in faces_manifest["scenes"]:
        # given a scene whose enrolled people are listed in the manifest
        result = engine.analyze_frame(load_bgr(faces_dir / scene["file"]), gallery)
        named = sorted(f.identity for f in result.faces if f.identity is not None)
        # then each listed person is named once and every other face is unknown
        assert named == sorted(scene["identities"]), scene["file"]
        assert result.unknown_count == scene["faces"] - len(scene["identities"])


def test_child_is_never_attributed(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given the obama+biden scene, whose lowest face is the non-enrolled child
    result = engine.analyze_frame(load_bgr(faces_dir / "scenes/obama+biden.jpg"), gallery)
    child = max(result.faces, key=lambda f: f.box[1])
    # then the child has no identity, no distance and (not enrolled) no emotion
    assert child.identity is None and child.distance is None and child.emotion is None


def test_probes_are_matched_and_the_unknown_rejected(
    engine: Any, gallery: Any, faces_dir: Path, faces_manifest: dict
) -> None:
    for probe in faces_manifest["probe"]:
        # given a single-person probe photo
        result = engine.analyze_frame(load_bgr(faces_dir / probe["file"]), gallery)
        # when the most prominent face is looked up
        face = max(result.faces, key=lambda f: f.box[2])
        # then it carries the manifest's identity (None for the unknown person)
        assert face.identity == probe["identity"], probe["file"]


def test_known_faces_get_emotion_probabilities(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given an enrolled, frontal, sharp face
    result = engine.analyze_frame(load_bgr(faces_dir / "scenes/obama_1080p.jpg"), gallery)
    face = result.faces[0]
    # then its probabilities cover the 7 canonical classes and sum to one
    assert face.assessable and face.probs is not None
    assert set(face.probs) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert abs(sum(face.probs.values()) - 1.0) < 1e-4
    assert face.emotion == max(face.probs, key=lambda k: face.probs[k])


def test_tiny_blurred_face_is_not_assessable(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given an enrolled face shrunk to ~70 px and blurred heavily
    image = load_bgr(faces_dir / "scenes/obama_240p.jpg")
    blurred = cv2.GaussianBlur(image, (0, 0), 3.0)
    result = engine.analyze_frame(blurred, gallery)
    # then the face is still found but marked not assessable and carries no emotion
    assert result.faces
    for face in result.faces:
        assert face.quality < engine.config.min_quality
        assert not face.assessable and face.emotion is None and face.probs is None


def test_enrollment_needs_exactly_one_face(engine: Any, faces_dir: Path) -> None:
    # given a blank photo and a two-person photo / then each is refused with a reason
    with pytest.raises(EnrollmentPhotoError, match="no face"):
        engine.embed_enrollment_photo(np.full((300, 300, 3), 128, np.uint8))
    with pytest.raises(EnrollmentPhotoError, match="2 faces"):
        engine.embed_enrollment_photo(load_bgr(faces_dir / "scenes/two_people.jpg"))
    # and a good photo gives a 128-d float32 template
    vector = engine.embed_enrollment_photo(load_bgr(faces_dir / "enroll/obama/1.jpg"))
    assert vector.shape == (128,) and vector.dtype == np.float32


def test_frame_without_faces_is_empty(engine: Any, gallery: Any) -> None:
    # given a frame with no face / then an empty result, not an error
    result = engine.analyze_frame(np.zeros((480, 640, 3), np.uint8), gallery)
    assert result.faces == [] and result.unknown_count == 0
