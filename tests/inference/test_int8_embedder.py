"""The INT8 face embedder: used only where the CPU has VNNI, reproducible from ../shared, and
close enough to FP32 that nobody's name changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.dlib_resnet_onnx import INFO_FILE, MODEL_NAME, import_dlib_resnet
from inference.embedder_quantization import (
    DEFAULT_CALIBRATION,
    cpu_has_vnni,
    effective_precision,
)
from inference.face_geometry import extract_chips
from inference.identity import CHIP_PADDING, CHIP_SIZE, EmbedderError, OnnxEmbedder
from inference.model_manifest import DEFAULT_MODELS_DIR
from tests.inference.conftest import load_bgr

SHIPPED = DEFAULT_MODELS_DIR / MODEL_NAME
NEEDS_VNNI = pytest.mark.skipif(
    not cpu_has_vnni(), reason="the INT8 embedder is used only on CPUs with VNNI; this one has none"
)
AVX2_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
VNNI_CPUINFO = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"


@pytest.fixture(scope="module")
def face_chips(engine: Any, faces_dir: Path) -> np.ndarray:
    """Aligned chips of every face in the shared photos (enrolment, probes, scenes)."""
    chips: list[np.ndarray] = []
    for path in sorted(faces_dir.glob("enroll/*/*")) + sorted(faces_dir.glob("[ps]*/*")):
        rgb = np.ascontiguousarray(load_bgr(path)[:, :, ::-1])
        shapes = [face.shape for face in engine._find_faces(rgb)]
        chips += extract_chips(rgb, shapes, CHIP_SIZE, CHIP_PADDING)
    return np.stack(chips)


def test_vnni_is_read_from_the_cpu_flags() -> None:
    # given the flags lines of a CPU with AVX2 only, and of one with AVX-512 VNNI
    # then only the second counts as VNNI (and so gets the INT8 embedder by default)
    assert not cpu_has_vnni(AVX2_CPUINFO)
    assert cpu_has_vnni(VNNI_CPUINFO)
    assert cpu_has_vnni("flags\t: avx2 avx_vnni\n")


def test_auto_precision_is_int8_only_with_vnni_and_the_file() -> None:
    # given each combination of CPU and shipped files / then auto picks INT8 only with both
    assert effective_precision("auto", int8_available=True, vnni=True) == "int8"
    assert effective_precision("auto", int8_available=True, vnni=False) == "fp32"
    assert effective_precision("auto", int8_available=False, vnni=True) == "fp32"
    # and explicit choices are kept, or refused with a reason
    assert effective_precision("fp32", int8_available=True, vnni=True) == "fp32"
    assert effective_precision("int8", int8_available=True, vnni=False) == "int8"
    with pytest.raises(ValueError, match="missing"):
        effective_precision("int8", int8_available=False)
    with pytest.raises(ValueError, match="unknown embedder precision"):
        effective_precision("fp16", int8_available=True)


@NEEDS_VNNI
def test_int8_embeddings_stay_close_to_fp32(face_chips: np.ndarray) -> None:
    # given the aligned chips of every face in the shared photos
    # when embedded by the FP32 and the INT8 model
    fp32 = OnnxEmbedder(precision="fp32").embed_chips(list(face_chips))
    int8 = OnnxEmbedder(precision="int8").embed_chips(list(face_chips))
    # then no embedding moves by more than 0.1 (the match threshold is 0.6; genuine pairs
    # measure up to 0.53, impostors from 0.70), 0.04 on average as measured
    shift = np.linalg.norm(int8 - fp32, axis=1)
    assert float(shift.max()) < 0.1
    assert float(shift.mean()) < 0.06


def test_import_reproduces_the_committed_int8_model(tmp_path: Path, face_chips: np.ndarray) -> None:
    # given the calibration photos of ../shared
    if not any(DEFAULT_CALIBRATION.glob("*.jpg")):
        pytest.skip(f"shared classroom photos not found at {DEFAULT_CALIBRATION}")
    # when the embedder is imported again with its INT8 form
    info = import_dlib_resnet(tmp_path, calibration=DEFAULT_CALIBRATION)
    committed = json.loads((SHIPPED / INFO_FILE).read_text())
    assert isinstance(info["int8"], dict)
    assert info["int8"]["scheme"] == committed["int8"]["scheme"]
    # then the new INT8 model embeds the shared faces as the committed one does (byte equality
    # holds on one CPU; another CPU's FP32 rounding may move a calibration range by an ulp)
    remade = OnnxEmbedder(directory=tmp_path / MODEL_NAME, precision="int8")
    shipped = OnnxEmbedder(precision="int8")
    chips = list(face_chips[:16])
    assert np.abs(remade.embed_chips(chips) - shipped.embed_chips(chips)).max() < 1e-3


def test_altered_int8_file_is_refused(tmp_path: Path) -> None:
    # given a copy of the shipped embedder whose INT8 file was altered
    folder = tmp_path / MODEL_NAME
    shutil.copytree(SHIPPED, folder)
    data = bytearray((folder / "model-int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model-int8.onnx").write_bytes(bytes(data))
    # when loaded in INT8, then it refuses naming the checksum; FP32 still loads
    with pytest.raises(EmbedderError, match="sha256"):
        OnnxEmbedder(directory=folder, precision="int8")
    assert OnnxEmbedder(directory=folder, precision="fp32").precision == "fp32"


def test_templates_are_embedded_in_fp32_whatever_the_frames_precision(faces_dir: Path) -> None:
    # given an engine whose frames are embedded in INT8 (forced, whatever this CPU)
    from inference.engine import EngineConfig, FaceEngine

    engine = FaceEngine(EngineConfig(embedder="onnx", embedder_precision="int8"))
    fp32_engine = FaceEngine(EngineConfig(embedder="onnx", embedder_precision="fp32"))
    photo = load_bgr(faces_dir / "enroll/obama/1.jpg")
    # when a template is made from an enrollment photo
    template = engine.embed_enrollment_photo(photo)
    # then it is the FP32 embedding, while the frames' embedder stays INT8
    assert isinstance(engine.embedder, OnnxEmbedder) and engine.embedder.precision == "int8"
    assert np.abs(template - fp32_engine.embed_enrollment_photo(photo)).max() < 1e-5
