"""decode_image refuses every kind of bad input with its own exception and normalises formats."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.image_io import (
    EmptyImageError,
    ImageDecodeError,
    ImageTooLargeError,
    NotAnImageError,
    TooManyPixelsError,
    TruncatedImageError,
    decode_image,
)


def encode(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR announces width x height (a decompression bomb header)."""
    data = bytearray(encode(".png", np.zeros((8, 8), np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_empty_bytes_are_refused() -> None:
    # given zero bytes / when decoded / then EmptyImageError
    with pytest.raises(EmptyImageError):
        decode_image(b"")


def test_text_is_not_an_image() -> None:
    # given a text file's bytes / when decoded / then NotAnImageError (an ImageDecodeError)
    with pytest.raises(NotAnImageError) as info:
        decode_image(b"name,age\nalice,12\n")
    assert isinstance(info.value, ImageDecodeError)


def test_truncated_jpeg_is_refused() -> None:
    # given a JPEG cut in half
    jpeg = encode(".jpg", np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8))
    # when decoded / then TruncatedImageError rather than a half-grey picture
    with pytest.raises(TruncatedImageError):
        decode_image(jpeg[: len(jpeg) // 2])
    with pytest.raises(TruncatedImageError):
        decode_image(jpeg[:40])


def test_too_many_bytes_are_refused_before_decoding() -> None:
    # given a valid image larger than max_bytes
    png = encode(".png", np.zeros((64, 64, 3), np.uint8))
    # when decoded with a smaller limit / then ImageTooLargeError
    with pytest.raises(ImageTooLargeError):
        decode_image(png, max_bytes=len(png) - 1)


def test_decompression_bomb_header_is_refused() -> None:
    # given a 100-byte PNG announcing 50000 x 50000 pixels, and one under Pillow's own limit
    # when decoded / then TooManyPixelsError from the header, without allocating the canvas
    with pytest.raises(TooManyPixelsError):
        decode_image(png_claiming_size(50_000, 50_000))
    with pytest.raises(TooManyPixelsError):
        decode_image(png_claiming_size(8000, 6000))


@pytest.mark.parametrize(
    "image",
    [
        np.full((20, 30), 77, np.uint8),
        np.full((20, 30, 4), 200, np.uint8),
        np.full((20, 30), 40000, np.uint16),
        np.full((20, 30, 3), 65535, np.uint16),
    ],
    ids=["gray8", "bgra8", "gray16", "bgr16"],
)
def test_formats_are_normalised_to_bgr8(image: np.ndarray) -> None:
    # given a PNG of an unusual channel count or bit depth
    data = encode(".png", image)
    # when decoded
    out = decode_image(data)
    # then it is (H, W, 3) uint8 with the intensity scaled from 16 to 8 bits when needed
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    expected = int(image.reshape(-1)[0]) >> (8 if image.dtype == np.uint16 else 0)
    assert int(out[0, 0, 0]) == expected


def test_every_shared_photo_decodes(faces_dir: Path) -> None:
    # given the shared photos (JPEG, PNG, RGBA PNG) / when decoded / then BGR uint8
    for path in sorted(faces_dir.glob("*/*.*g")) + sorted(faces_dir.glob("enroll/*/*")):
        out = decode_image(path.read_bytes())
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8, path
