"""decode_image's ``max_decoded_pixels`` bounds what decoding costs (issue 15): a large JPEG is
decoded at the libjpeg scale that fits, any other format above it is refused from its header,
before a single pixel is decoded; ``check_image`` makes those checks without decoding."""

from __future__ import annotations

import zlib

import cv2
import numpy as np
import pytest

from inference.image_io import (
    TooManyPixelsError,
    TruncatedImageError,
    check_image,
    decode_image,
    decode_reduction,
    fit_within,
)

SIZE_40MP = (7296, 5472)  # a 40-megapixel camera's photo


def flat_jpeg(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


def png_header(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose header announces ``width`` x ``height``: the data of a few
    pixels behind a header claiming millions (a decompression bomb's shape)."""
    ok, data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    assert ok
    raw = bytearray(data.tobytes())
    raw[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")  # the header's checksum
    return bytes(raw)


def test_a_jpeg_is_decoded_at_the_scale_that_fits_the_decoded_pixel_limit() -> None:
    # given a 40 MP JPEG and a limit of 12 MP decoded pixels, no target side
    data = flat_jpeg(*SIZE_40MP)
    # when decoded, then it comes out at half scale (9.98 MP), not in full
    assert decode_image(data, max_decoded_pixels=12_000_000).shape == (2736, 3648, 3)
    # and a tighter limit picks a smaller scale: 1/4 is 2.5 MP
    assert decode_image(data, max_decoded_pixels=3_000_000).shape == (1368, 1824, 3)
    # and without the limit it is decoded in full, as before
    assert decode_image(data).shape == (5472, 7296, 3)


def test_the_limit_can_only_reduce_further_than_reduce_to_asks() -> None:
    # given a 16000x900 JPEG, which reduce_to=1920 already decodes at 1/8
    # when a loose limit is given too, then it stays 1/8 (never a larger decode)
    assert decode_reduction("JPEG", 16000, 900, reduce_to=1920, max_decoded_pixels=10**8) == 8
    # and a JPEG whose 1/8 scale is still above the limit is refused, saying so
    with pytest.raises(TooManyPixelsError, match="1/8"):
        check_image(flat_jpeg(*SIZE_40MP), max_decoded_pixels=500_000)


def test_other_formats_above_the_limit_are_refused_from_the_header() -> None:
    # given a PNG announcing 40 MP, with the data of 64 pixels behind its header
    header = png_header(*SIZE_40MP)
    # when checked against a 12 MP decoding limit, then it is refused for its size, saying
    # what to send instead, not for its missing data: no pixel was decoded
    with pytest.raises(TooManyPixelsError, match=r"7296x5472 \(39\.9 megapixels\).*12\.0.*JPEG"):
        check_image(header, max_decoded_pixels=12_000_000)
    with pytest.raises(TooManyPixelsError):
        decode_image(header, max_decoded_pixels=12_000_000)
    # and without that limit, the header passes and decoding finds the data missing
    assert check_image(header) == ("PNG", 7296, 5472, 1)
    with pytest.raises(TruncatedImageError):
        decode_image(header)


def test_check_image_reports_what_decoding_would_do() -> None:
    # given a 40 MP JPEG, when checked for a caller that needs 1920 px, then it names the
    # format, the size and the scale decode_image would use, without decoding
    assert check_image(flat_jpeg(*SIZE_40MP), reduce_to=1920) == ("JPEG", 7296, 5472, 2)


def test_fit_within_shrinks_only_larger_images() -> None:
    # given a 3648x2736 picture, when fitted within 1920 px, then the longer side is 1920
    image = np.zeros((2736, 3648, 3), np.uint8)
    assert fit_within(image, 1920).shape == (1440, 1920, 3)
    # and a picture already within it is returned as it is
    small = np.zeros((480, 640, 3), np.uint8)
    assert fit_within(small, 1920) is small
