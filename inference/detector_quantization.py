"""Static INT8 form of the Ultra-Light RFB detector: the default, because it is faster.

At 1920x1088 the FP32 network is the largest single cost of a classroom frame (about 100 ms on
one thread of this project's slower CPU, 60 ms is the target). ONNX Runtime's static
quantization (QOperator: QLinearConv with per-channel INT8 weights and UINT8 activations,
MinMax ranges) cuts that, except in the network's first two convolutions, which stay FP32
(FP32_CONVOLUTIONS): they run at full and half input resolution on 3 and 16 channels, too few
for ONNX Runtime's INT8 kernels to fill a vector register, and took 21 and 14.5 ms in INT8
against 7 and 6.4 ms in FP32 at 1920x1088 (docs/inference.md). The activation ranges are
calibrated on the photos of
``../shared/testdata/faces`` (enrolment photos, probes and scenes, each at 100% and 35%), not on
the classroom photos that the detection benchmark scores, so the benchmark stays a fair test:
on ``python -m bench.classroom`` the INT8 model found the same faces of 16 px and more as the
FP32 model with no extra false positive (docs/inference.md, "INT8 detector").

Calibration is deterministic (same photos, same ONNX Runtime release: same bytes), so the
committed file can be reproduced by ``python -m inference models import ultra-light-rfb``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from inference.static_quantization import quantize_qoperator

CALIBRATION_SCALES = (1.0, 0.35)
CALIBRATION_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "shared/testdata/faces"


class CalibrationError(RuntimeError):
    """No calibration photos where they were expected."""


def calibration_photos(folder: Path) -> list[Path]:
    """Every photo under ``folder`` in a fixed order; CalibrationError when there is none."""
    photos = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in CALIBRATION_SUFFIXES
    )
    if not photos:
        raise CalibrationError(
            f"no calibration photos under {folder} (expected ../shared/testdata/faces)"
        )
    return photos


def calibration_inputs(folder: Path) -> Iterator[dict[str, np.ndarray]]:
    """Network inputs of each photo at each of CALIBRATION_SCALES (feeds for the calibrator)."""
    from inference.ultralight_detector import pad_input, resized

    for path in calibration_photos(folder):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue  # an unreadable file calibrates nothing; the others suffice
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        for scale in CALIBRATION_SCALES:
            yield {"input": pad_input(resized(rgb, scale))}


# How many of the graph's first Conv nodes stay FP32 (see the module doc).
FP32_CONVOLUTIONS = 2


def named_graph(fp32: bytes) -> tuple[bytes, list[str]]:
    """``fp32`` with a name on every node (the converted graph has none, and the quantizer
    excludes nodes by name) and the names of its first FP32_CONVOLUTIONS Conv nodes."""
    import onnx

    model = onnx.load_from_string(fp32)
    for index, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{index}"
    convolutions = [n.name for n in model.graph.node if n.op_type == "Conv"]
    return model.SerializeToString(), convolutions[:FP32_CONVOLUTIONS]


def quantize_detector(fp32: bytes, photos: Path) -> bytes:
    """The INT8 model of the FP32 detector graph ``fp32``, calibrated on ``photos``; its first
    FP32_CONVOLUTIONS convolutions stay FP32."""
    named, kept_fp32 = named_graph(fp32)
    return quantize_qoperator(named, calibration_inputs(photos), exclude=kept_fp32)
