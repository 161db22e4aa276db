"""Static INT8 form of the face embedder (dlib's ResNet on ONNX Runtime), used where it is safe.

Every face of every frame is embedded (a name may only stay on a face the embedder confirms,
docs/inference.md "Tracking and smoothing"), so the embedder is the largest cost of a classroom
frame. Measured 2026-12-04 on an Intel Xeon with AVX-512 VNNI, one thread, 30 chips a batch:
INT8 1.41 ms a face against 3.43 ms FP32, and the INT8 embeddings of the chips of
``../shared/testdata/faces`` lie 0.039 from the FP32 ones on average (max 0.070), in the units
of the 0.6 match threshold (genuine pairs 0.23-0.52, impostors from 0.70). On a CPU without
VNNI (AMD EPYC, AVX2) the same kind of model gained nothing and moved embeddings by 0.215 on
average (max 0.68): ONNX Runtime's u8s8 kernels saturate there. So ``auto`` (the default)
embeds in INT8 only where the CPU reports VNNI (:func:`cpu_has_vnni`), in FP32 elsewhere.

Calibration (MinMax activation ranges, per-channel INT8 weights, UINT8 activations,
QOperator): aligned chips of the faces that the FP32 detector finds in
``../shared/testdata/classroom`` (every CALIBRATION_STRIDE-th, at most CALIBRATION_CHIPS). No
identity figure is measured on those photos, so ``bench/small_faces`` and the scene tests stay
a fair test of the INT8 model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.static_quantization import quantize_qoperator

INT8_FILE = "model-int8.onnx"
PRECISIONS = ("auto", "int8", "fp32")
DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "shared/testdata/classroom"
CALIBRATION_STRIDE = 4
CALIBRATION_CHIPS = 200
CALIBRATION_BATCH = 20
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


class EmbedderCalibrationError(RuntimeError):
    """No calibration photos, or no face in them, where they were expected."""


def cpu_has_vnni(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has VNNI (from /proc/cpuinfo's flags; False where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = {
        flag
        for line in cpuinfo.splitlines()
        if line.startswith("flags")
        for flag in line.partition(":")[2].split()
    }
    return any(flag in flags for flag in VNNI_FLAGS)


def effective_precision(requested: str, int8_available: bool, vnni: bool | None = None) -> str:
    """``int8`` or ``fp32`` for a requested precision (one of PRECISIONS).

    ``auto``: INT8 when the INT8 file is there and the CPU has VNNI. ``int8`` forces it (a
    ValueError when the file is missing); ``fp32`` always gives FP32.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown embedder precision {requested!r}; choose one of {PRECISIONS}")
    if requested == "int8" and not int8_available:
        raise ValueError(f"the INT8 embedder ({INT8_FILE}) is missing")
    if requested == "auto":
        has_vnni = cpu_has_vnni() if vnni is None else vnni
        return "int8" if int8_available and has_vnni else "fp32"
    return requested


def calibration_chips(folder: Path = DEFAULT_CALIBRATION) -> np.ndarray:
    """(N, 150, 150, 3) uint8 RGB chips for calibration: every photo under ``folder``, faces
    found by the FP32 detector, aligned as the engine aligns them. EmbedderCalibrationError
    when there is none."""
    import cv2

    from inference.engine import EngineConfig, FaceEngine
    from inference.face_geometry import extract_chips
    from inference.identity import CHIP_PADDING, CHIP_SIZE

    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    engine = FaceEngine(EngineConfig(detector="rfb-fp32", embedder="dlib"))
    chips: list[np.ndarray] = []
    for path in photos:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue  # an unreadable photo calibrates nothing; the others suffice
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        faces = engine._find_faces(rgb)
        chips += extract_chips(rgb, [f.shape for f in faces], CHIP_SIZE, CHIP_PADDING)
    if not chips:
        raise EmbedderCalibrationError(
            f"no faces for calibration under {folder} (expected ../shared/testdata/classroom)"
        )
    return np.stack(chips[::CALIBRATION_STRIDE][:CALIBRATION_CHIPS])


def quantize_embedder(fp32: bytes, chips: np.ndarray, input_name: str) -> bytes:
    """The INT8 model of the FP32 embedder graph ``fp32``, calibrated on ``chips`` (N x 150 x
    150 x 3 uint8 RGB)."""
    batch = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
    feeds = iter(
        {input_name: batch[i : i + CALIBRATION_BATCH]}
        for i in range(0, len(batch), CALIBRATION_BATCH)
    )
    return quantize_qoperator(fp32, feeds)
