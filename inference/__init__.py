"""Face analysis engine: detection, identity, emotion (plain Python, no Django).

The engine API is re-exported here lazily, so that ``import inference.model_manifest`` (used by
training/) does not load dlib, OpenCV or ONNX Runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inference.engine import (
        EngineConfig,
        EnrollmentPhotoError,
        FaceEngine,
        FaceResult,
        FrameResult,
        Gallery,
        TrackerState,
    )
    from inference.image_io import ImageDecodeError, decode_image

_EXPORTS = {
    "EngineConfig": "inference.engine",
    "EnrollmentPhotoError": "inference.engine",
    "FaceEngine": "inference.engine",
    "FaceResult": "inference.engine",
    "FrameResult": "inference.engine",
    "Gallery": "inference.identity",
    "TrackerState": "inference.tracking",
    "ImageDecodeError": "inference.image_io",
    "decode_image": "inference.image_io",
}

__all__ = [
    "EngineConfig",
    "EnrollmentPhotoError",
    "FaceEngine",
    "FaceResult",
    "FrameResult",
    "Gallery",
    "ImageDecodeError",
    "TrackerState",
    "decode_image",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inference' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
