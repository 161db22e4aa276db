"""The INT8 face detector (the default): reproducible from ../shared, checked, and as good as
the FP32 network on the faces the product names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.detection import create_detector
from inference.tracking import box_iou
from inference.ultralight_detector import (
    DetectorModelError,
    UltraLightDetector,
    model_folder,
)
from inference.ultralight_import import DEFAULT_SOURCE, ModelImportError, import_ultralight
from tests.inference.conftest import load_bgr

SHIPPED = Path(__file__).resolve().parents[2] / "inference" / "models" / "ultra-light-rfb"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Path:
    if not (DEFAULT_SOURCE / "SHA256SUMS").is_file():
        pytest.skip(f"shared detector weights not found at {DEFAULT_SOURCE}")
    models = tmp_path_factory.mktemp("models")
    import_ultralight(models, DEFAULT_SOURCE, faces_dir)
    return models / "ultra-light-rfb"


def test_import_reproduces_the_committed_int8_model(imported: Path) -> None:
    # given the import run again from ../shared (FP32 conversion, then INT8 calibration)
    written = json.loads((imported / "detector.json").read_text())
    committed = json.loads((SHIPPED / "detector.json").read_text())
    # then both files are byte for byte the committed ones
    assert written["sha256"] == committed["sha256"]
    assert written["int8"]["sha256"] == committed["int8"]["sha256"]
    assert (imported / "model-int8.onnx").read_bytes() == (SHIPPED / "model-int8.onnx").read_bytes()


def test_import_without_calibration_photos_writes_nothing(tmp_path: Path) -> None:
    # given the source weights but an empty calibration folder
    if not (DEFAULT_SOURCE / "SHA256SUMS").is_file():
        pytest.skip(f"shared detector weights not found at {DEFAULT_SOURCE}")
    empty = tmp_path / "no-photos"
    empty.mkdir()
    # when the import runs, then it refuses naming the folder, and writes no model folder
    with pytest.raises(ModelImportError, match="no calibration photos"):
        import_ultralight(tmp_path / "models", DEFAULT_SOURCE, empty)
    assert not (tmp_path / "models").exists()


def test_altered_int8_file_is_refused(tmp_path: Path) -> None:
    # given a copy of the shipped detector whose INT8 file was altered
    folder = tmp_path / "ultra-light-rfb"
    shutil.copytree(model_folder(), folder)
    data = bytearray((folder / "model-int8.onnx").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model-int8.onnx").write_bytes(bytes(data))
    # when the default (INT8) detector loads it, then it refuses; the FP32 file still loads
    with pytest.raises(DetectorModelError, match="does not match the sha256"):
        UltraLightDetector(directory=tmp_path)
    assert UltraLightDetector(directory=tmp_path, precision="fp32").name == "rfb"


@pytest.mark.parametrize(
    "photo", ["scenes/two_people.jpg", "scenes/obama+biden.jpg", "scenes/obama_1080p.jpg"]
)
def test_int8_finds_what_fp32_finds(faces_dir: Path, photo: str) -> None:
    # given a scene photo, at full size and shrunk to a third (faces of 20-60 px)
    bgr = load_bgr(faces_dir / photo)
    int8, fp32 = create_detector("rfb"), create_detector("rfb-fp32")
    for scale in (1.0, 0.33):
        small = bgr[:: round(1 / scale), :: round(1 / scale)] if scale < 1 else bgr
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        # when both forms of the network look at it
        reference = [d for d in fp32.detect(rgb) if min(d.box[2:]) >= 16]
        found = int8.detect(rgb)
        # then every face of 16 px or more that FP32 finds, INT8 finds in the same place
        assert reference
        for face in reference:
            assert max(box_iou(face.box, d.box) for d in found) >= 0.7


def test_first_two_convolutions_stay_fp32() -> None:
    # given the shipped INT8 detector graph
    import onnx

    nodes = [n.op_type for n in onnx.load(str(SHIPPED / "model-int8.onnx")).graph.node]
    convolutions = [op for op in nodes if op in ("Conv", "QLinearConv")]
    # then the full- and half-resolution convolutions (3 and 16 channels) are FP32, the rest INT8
    assert convolutions[:2] == ["Conv", "Conv"]
    assert set(convolutions[2:]) == {"QLinearConv"}


def test_fp32_network_remakes_the_int8_networks_borderline_call(faces_dir: Path) -> None:
    # given two_people.jpg, where the INT8 network scores a crossed arm just over the threshold
    # (0.78; the FP32 network gives it 0.62)
    rgb = np.ascontiguousarray(load_bgr(faces_dir / "scenes/two_people.jpg")[:, :, ::-1])
    detector = UltraLightDetector()
    boxes, scores = detector.raw_boxes(rgb)
    borderline = [(b, s) for b, s in zip(boxes, scores, strict=True) if s < 0.95]
    assert len(borderline) == 1 and len(boxes) == 3
    box, score = borderline[0]
    # when the second look judges it, then the FP32 look turns it down
    assert not detector.confirmed(rgb, box, float(score))
    assert len(detector.detect(rgb)) == 2
    # and the FP32 look is made at the scale of the pass that found the box: the same photo
    # enlarged 3.5x (searched at 1920 px, about half its size) also gives the two faces
    import cv2

    huge = cv2.resize(rgb, None, fx=3.5, fy=3.5, interpolation=cv2.INTER_CUBIC)
    assert len(detector.detect(huge)) == 2
    # and without the FP32 look the enlarged look alone would have let it stand
    detector.verifier = None
    assert detector.confirmed(rgb, box, float(score))
