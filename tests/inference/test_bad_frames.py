"""Truncated files of every format are refused; degenerate frames give empty results, no crash."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from inference.classroom_scene import compose_classroom, crop_faces
from inference.image_io import ImageDecodeError, TruncatedImageError, decode_image
from tests.inference.conftest import load_bgr


def encoded(fmt: str) -> bytes:
    """A 200x200 noise image in ``fmt`` (Pillow's format names)."""
    pixels = np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "WEBP", "TIFF"])
def test_truncated_files_of_every_format_are_refused(fmt: str) -> None:
    data = encoded(fmt)
    assert decode_image(data).shape == (200, 200, 3)  # the whole file is fine
    # given the same file cut at half and at its last 12 bytes
    for cut in (len(data) // 2, len(data) - 12):
        # when decoded / then a TruncatedImageError, never a partly grey picture
        with pytest.raises(TruncatedImageError):
            decode_image(data[:cut])


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (7, 5), (4, 3000), (3000, 4), (40, 40)], ids=str)
def test_degenerate_frames_give_an_empty_result(
    engine: Any, gallery: Any, shape: tuple[int, int]
) -> None:
    # given a tiny or extremely thin image that decodes fine
    pixels = np.random.default_rng(2).integers(0, 255, (*shape, 3), np.uint8)
    frame = decode_image(cv2.imencode(".png", pixels)[1].tobytes())
    # when analysed with a tracker / then no faces and no error
    result = engine.analyze_frame(frame, gallery, engine.new_tracker(), timestamp=0.0)
    assert result.faces == [] and result.not_assessable_count == 0


def test_random_bytes_after_a_jpeg_signature_are_refused() -> None:
    # given bytes that start like a JPEG and continue with noise
    data = b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(3).integers(0, 255, 5000, np.uint8))
    # when decoded / then a decode error (whichever kind), not a crash
    with pytest.raises(ImageDecodeError):
        decode_image(data)


@pytest.mark.parametrize("shape", [(1, 640), (1, 1920), (640, 1)], ids=str)
def test_one_pixel_high_or_wide_frames_give_an_empty_result(
    engine: Any, gallery: Any, shape: tuple[int, int]
) -> None:
    # given a 1-pixel-high (or wide) frame
    frame = np.full((*shape, 3), 128, np.uint8)
    # when analysed / then no faces, no error
    assert engine.analyze_frame(frame, gallery).faces == []


def test_4k_frame_finds_the_faces_of_its_1080p_copy(
    engine: Any, gallery: Any, faces_dir: Path
) -> None:
    # given a scene upscaled to 3840x2160 (4K)
    image = cv2.resize(load_bgr(faces_dir / "scenes/obama+biden.jpg"), (3840, 2160))
    # when analysed / then the detector works on a 1920 px copy and the faces come back
    # in the 4K frame's own coordinates, named as usual
    result = engine.analyze_frame(image, gallery)
    named = sorted(f.identity for f in result.faces if f.identity)
    assert named == ["biden", "obama"]
    assert max(f.box[0] + f.box[2] for f in result.faces) > 1920


def test_a_crowd_is_capped_and_says_so(faces_dir: Path) -> None:
    from inference.engine import EngineConfig, FaceEngine
    from inference.identity import Gallery

    # given an engine that analyses at most 8 faces a frame, and a frame of 30 faces
    engine = FaceEngine(EngineConfig(max_faces=8))
    photos = sorted(faces_dir.glob("enroll/*/*"))
    frame, _ = compose_classroom(crop_faces([load_bgr(p) for p in photos]), 30)
    # when analysed
    result = engine.analyze_frame(frame, Gallery.from_templates({}))
    # then 8 faces are analysed and the other 22 are reported as over the cap, not analysed
    assert len(result.faces) == 8
    assert result.faces_over_cap == 22


def test_cut_jpeg_with_an_end_marker_appended_is_refused(faces_dir: Path) -> None:
    # given a real JPEG cut at 98% and 60% of its bytes, each with FFD9 appended so that its
    # trailer looks complete
    data = (faces_dir / "scenes/obama_1080p.jpg").read_bytes()
    assert decode_image(data).shape == (1080, 1920, 3)
    for share in (0.98, 0.6):
        forged = data[: int(len(data) * share)] + b"\xff\xd9"
        # when decoded / then refused as truncated, never a half-grey picture
        with pytest.raises(TruncatedImageError):
            decode_image(forged)
