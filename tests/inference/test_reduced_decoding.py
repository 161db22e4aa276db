"""Large JPEG photos are decoded only as large as needed (issue 15: a 40-megapixel enrollment
photo took 6.2 s of a web request): libjpeg's DCT scaling, EXIF orientation still applied."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.image_io import decode_image, jpeg_reduction


def jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    """A JPEG with a bright left half, and an EXIF orientation tag."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = 230
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "reduce_to", "expected"),
    [
        ((7296, 5472), 1920, 2),
        ((4000, 3000), 1920, 2),
        ((3000, 2000), 1920, 1),
        ((16000, 900), 1920, 8),
    ],
)
def test_reduction_keeps_the_longer_side_at_least_the_target(
    size: tuple[int, int], reduce_to: int, expected: int
) -> None:
    # given an image size and the side the caller needs, then the scale-down is the largest
    # that keeps the longer side at or above it
    assert jpeg_reduction(*size, reduce_to) == expected
    assert max(size) // expected >= reduce_to


def test_large_jpeg_is_decoded_at_reduced_scale() -> None:
    # given a 40-megapixel JPEG photo
    data = jpeg(7296, 5472)
    # when decoded for a caller that needs 1920 px
    image = decode_image(data, reduce_to=1920)
    # then it arrives at half size, the same picture
    assert image.shape == (2736, 3648, 3)
    assert image[:, :1800].mean() > 200 and image[:, 1900:].mean() < 30
    # and without reduce_to, decoding is unchanged (full size)
    assert decode_image(data).shape == (5472, 7296, 3)


def test_reduced_decoding_still_applies_exif_orientation() -> None:
    # given a landscape-stored phone photo tagged "rotate 90 clockwise" (orientation 6)
    data = jpeg(8000, 4000, orientation=6)
    # when decoded reduced (1/4: 2000 px is the longer side), then it comes out upright
    # (portrait), the bright half on top
    image = decode_image(data, reduce_to=1920)
    assert image.shape == (2000, 1000, 3)
    assert image[:950].mean() > 200 and image[1050:].mean() < 30


def test_enrollment_of_a_40_megapixel_photo_matches_the_original(faces_dir: Path) -> None:
    # given an enrollment photo enlarged six times (37 megapixels)
    import cv2

    from inference.engine import FaceEngine

    engine = FaceEngine()
    original = decode_image((faces_dir / "enroll/obama/1.jpg").read_bytes())
    height, width = original.shape[:2]
    huge = cv2.resize(original, (width * 6, height * 6), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", huge, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    # when it is enrolled decoded in full and decoded reduced, as enrollment now does
    full = engine.embed_enrollment_photo(decode_image(buf.tobytes()))
    reduced = engine.embed_enrollment_photo(decode_image(buf.tobytes(), reduce_to=1920))
    # then the two templates are practically the same (match threshold 0.6; two photos of the
    # same person are ~0.35 apart), and both match the original photo's
    assert float(np.linalg.norm(full - reduced)) < 0.05
    assert float(np.linalg.norm(engine.embed_enrollment_photo(original) - reduced)) < 0.3
