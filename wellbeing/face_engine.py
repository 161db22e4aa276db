"""The process-wide face engine used by enrollment and the inference workers.

Models are loaded once per process on first use (they take seconds and ~hundreds of MB), under
a lock so two threads never load them twice.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

if TYPE_CHECKING:
    from inference import FaceEngine

EMBEDDER_NAME = "dlib_resnet_v1"
# Enrollment photos are decoded no larger than needed: the detector searches at most 1920 px
# and an enrollment face is large, so a 40-megapixel JPEG is decoded at 1/2 scale or less
# (issue 15: it took 6.2 s of the web request in full).
ENROLLMENT_DECODE_SIDE = 1920

_lock = threading.Lock()
_engine: FaceEngine | None = None


def get_face_engine() -> FaceEngine:
    """The shared FaceEngine of this process (created on first call)."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                from inference import FaceEngine

                _engine = FaceEngine()
    return _engine


def compute_enrollment_embedding(photo: bytes) -> np.ndarray:
    """Decode one photo (with the upload limits) and return the embedding of its single face.

    Raises ValueError subclasses with a plain-words message: not an image, too large, no face,
    several faces, face too small or blurry. The photo bytes are not kept.
    """
    from inference import decode_image

    image = decode_image(
        photo,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_pixels=settings.MAX_IMAGE_PIXELS,
        reduce_to=ENROLLMENT_DECODE_SIDE,
    )
    return get_face_engine().embed_enrollment_photo(image)
