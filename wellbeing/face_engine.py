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
# Enrollment runs in the web request, so its work is bounded (issue 15: a 40-megapixel photo
# took 6.2 s of it). At most settings.ENROLLMENT_MAX_PIXELS are decoded: a larger JPEG at 1/2,
# 1/4 or 1/8 scale (libjpeg's DCT scaling), any other format that large is refused from its
# header. The detector searches at most 1920 px, so the picture is then shrunk to that before
# the face engine sees it; an enrollment face is large, its template does not change.
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


def enrollment_limits() -> dict[str, int]:
    """The decoding limits of enrollment photos (keyword arguments of inference.image_io)."""
    return {
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "max_pixels": settings.MAX_IMAGE_PIXELS,
        "max_decoded_pixels": settings.ENROLLMENT_MAX_PIXELS,
        "reduce_to": ENROLLMENT_DECODE_SIDE,
    }


def check_enrollment_photo(photo: bytes) -> None:
    """Refuse a photo that decoding would refuse, from its header and last bytes only (cheap).

    Raises the ValueError subclasses of ``compute_enrollment_embedding``'s decoding.
    """
    from inference.image_io import check_image

    check_image(photo, **enrollment_limits())


def decode_enrollment_photo(photo: bytes) -> np.ndarray:
    """The photo as the face engine gets it: BGR, longer side at most ENROLLMENT_DECODE_SIDE,
    and never more than ENROLLMENT_MAX_PIXELS decoded on the way."""
    from inference.image_io import decode_image, fit_within

    return fit_within(decode_image(photo, **enrollment_limits()), ENROLLMENT_DECODE_SIDE)


def compute_enrollment_embedding(photo: bytes) -> np.ndarray:
    """Decode one photo (with the upload limits) and return the embedding of its single face.

    Raises ValueError subclasses with a plain-words message: not an image, too large, too many
    pixels to decode, no face, several faces, face too small or blurry. The photo bytes are not
    kept.
    """
    return get_face_engine().embed_enrollment_photo(decode_enrollment_photo(photo))
