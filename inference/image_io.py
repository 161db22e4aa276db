"""Untrusted image bytes -> 8-bit BGR arrays, refusing bad input with precise exceptions.

Dimensions are read from the header (Pillow, lazy) BEFORE anything is decoded, so a
decompression bomb (a small file announcing a huge canvas) is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_PIXELS = 40_000_000
KNOWN_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF8",
    b"BM",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
)
# ANYCOLOR|ANYDEPTH keeps 16-bit and gray as stored but, unlike IMREAD_UNCHANGED, still applies
# the EXIF orientation, so phone photos arrive upright for the face detector.
DECODE_FLAGS = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH


class ImageDecodeError(ValueError):
    """The bytes are not a usable image; subclasses say why."""


class EmptyImageError(ImageDecodeError):
    """0 bytes were given."""


class ImageTooLargeError(ImageDecodeError):
    """More bytes than the configured maximum."""


class TooManyPixelsError(ImageDecodeError):
    """The header announces more pixels than the maximum (decompression-bomb guard)."""


class NotAnImageError(ImageDecodeError):
    """The bytes are not in any supported image format."""


class TruncatedImageError(ImageDecodeError):
    """The image starts correctly but its data ends early or is corrupt."""


def read_header_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header only; NotAnImageError when unrecognised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return str(img.format), int(img.width), int(img.height)
    except Image.DecompressionBombError as exc:  # Pillow refuses > 2x its own limit
        raise TooManyPixelsError(f"image dimensions refused: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if data.startswith(KNOWN_MAGIC):
            raise TruncatedImageError(f"image header is cut short ({len(data)} bytes)") from exc
        raise NotAnImageError(f"not a recognised image format ({len(data)} bytes)") from exc


def check_complete(fmt: str, data: bytes) -> None:
    """Raise TruncatedImageError when a JPEG lacks its end marker or a PNG its IEND chunk.

    libjpeg only warns on a premature end and fills the rest with grey, which would feed a
    half-grey frame to the detectors; checking the trailer is cheap and exact for a plain cut
    (ingest runs it in the web process). A cut JPEG with an end marker appended passes it;
    ``decode_image`` catches that with ``check_jpeg_scan``.
    """
    tail = data[-64:].rstrip(b"\x00\r\n ")
    if fmt == "JPEG" and not tail.endswith(b"\xff\xd9"):
        raise TruncatedImageError("JPEG data ends before its end-of-image marker")
    if fmt == "PNG" and b"IEND" not in tail[-12:]:
        raise TruncatedImageError("PNG data ends before its IEND chunk")


def check_jpeg_scan(data: bytes) -> None:
    """TruncatedImageError when the JPEG's scan data stops before the image is complete.

    Entropy-decodes the scan at 1/8 scale with libjpeg-turbo's warnings as errors (simplejpeg):
    ~5 ms for a 1280x720 frame here, up to ~15-50 ms for a 3 MP photo, so it runs where the
    image is decoded anyway (worker, enrollment), not in ingest's web request.

    Only that warning refuses the image: others that cameras commonly produce ("extraneous bytes
    before marker") leave a complete picture, and colour spaces simplejpeg cannot convert
    (CMYK) are left to OpenCV.
    """
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True, min_height=1, min_width=1)
    except ValueError as exc:
        if "premature end" in str(exc).lower():
            raise TruncatedImageError(f"JPEG data is cut short ({exc})") from None


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Normalise gray / BGRA / 16-bit / float decodes to contiguous (H, W, 3) uint8 BGR."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        span = float(img.max() - img.min()) or 1.0
        img = ((img - img.min()) * (255.0 / span)).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img[:, :, :3])


def jpeg_reduction(width: int, height: int, min_side: int) -> int:
    """The largest libjpeg scale-down (1, 2, 4 or 8) that keeps the longer side >= min_side."""
    longer = max(width, height)
    return next((r for r in (8, 4, 2) if min_side and longer // r >= min_side), 1)


REDUCED_FLAGS = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
MEGA = 1_000_000


def scaled_pixels(width: int, height: int, reduction: int) -> int:
    """Pixels libjpeg produces at 1/``reduction`` scale (it rounds each side up)."""
    return -(-width // reduction) * -(-height // reduction)


def decode_reduction(
    fmt: str, width: int, height: int, *, reduce_to: int = 0, max_decoded_pixels: int = 0
) -> int:
    """The scale-down ``decode_image`` uses: 1 (full size), or 2, 4, 8 for a JPEG.

    The largest that keeps the longer side >= ``reduce_to`` (see ``jpeg_reduction``), or more
    when that would still decode more than ``max_decoded_pixels`` (0: no such limit). Raises
    TooManyPixelsError when no scale fits that limit: any format but JPEG above it (those are
    always decoded in full), a JPEG whose 1/8 scale is still above it.
    """
    reduction = jpeg_reduction(width, height, reduce_to) if fmt == "JPEG" else 1
    if not max_decoded_pixels or scaled_pixels(width, height, reduction) <= max_decoded_pixels:
        return reduction
    size = f"{fmt} image is {width}x{height} ({width * height / MEGA:.1f} megapixels)"
    limit = f"{max_decoded_pixels / MEGA:.1f} megapixels"
    if fmt != "JPEG":
        raise TooManyPixelsError(
            f"{size}; at most {limit} are decoded: send a JPEG (decoded at reduced scale) "
            "or a smaller image"
        )
    fits = [r for r in (2, 4, 8) if scaled_pixels(width, height, r) <= max_decoded_pixels]
    if not fits:
        raise TooManyPixelsError(f"{size}; even at 1/8 scale it is more than {limit}")
    return max(reduction, fits[0])


def check_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_to: int = 0,
    max_decoded_pixels: int = 0,
) -> tuple[str, int, int, int]:
    """Every check ``decode_image`` makes that reads no pixel data; returns (format, width,
    height, the scale-down it would decode at). Cheap (the header and the last bytes), so a
    caller with several images can refuse a bad one before decoding any.

    Raises what ``decode_image`` raises, except a JPEG whose scan data is cut short but that
    ends with an end marker (found only by decoding).
    """
    if not data:
        raise EmptyImageError("image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image has {len(data)} bytes, the maximum is {max_bytes}")
    fmt, width, height = read_header_size(data)
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"image is {width}x{height} = {width * height} pixels, the maximum is {max_pixels}"
        )
    reduction = decode_reduction(
        fmt, width, height, reduce_to=reduce_to, max_decoded_pixels=max_decoded_pixels
    )
    check_complete(fmt, data)
    return fmt, width, height, reduction


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_to: int = 0,
    max_decoded_pixels: int = 0,
) -> np.ndarray:
    """Decode untrusted image bytes to a (H, W, 3) uint8 BGR array.

    ``reduce_to`` (px, 0: off): a JPEG whose longer side is at least twice that is decoded at
    1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, several times cheaper in time and memory than
    decoding in full and resizing), keeping the longer side >= ``reduce_to``; EXIF orientation
    is applied as usual. Other formats are decoded in full.

    ``max_decoded_pixels`` (0: off) bounds the work and memory of decoding, unlike
    ``max_pixels``, which bounds the file: a JPEG is decoded at the scale that fits it, any
    other format above it is refused (see ``decode_reduction``).

    Raises (all ImageDecodeError, a ValueError): EmptyImageError, ImageTooLargeError,
    NotAnImageError, TooManyPixelsError (checked on the header, before decoding),
    TruncatedImageError. Never returns a partially decoded image.
    """
    fmt, _, _, reduction = check_image(
        data,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        reduce_to=reduce_to,
        max_decoded_pixels=max_decoded_pixels,
    )
    if fmt == "JPEG":
        check_jpeg_scan(data)
    flags = REDUCED_FLAGS[reduction] if reduction > 1 else DECODE_FLAGS
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None or img.size == 0:
        raise TruncatedImageError(f"{fmt} header is valid but the image data could not be decoded")
    return to_bgr8(img)


def fit_within(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` shrunk (area averaging) so that its longer side is at most ``side``; the same
    array when it already is."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
